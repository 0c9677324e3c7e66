package alertpage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations is the state-store component of the operators' sessions.
var Migrations = store.Register(store.Component{Name: "alertpage", FS: migrationsFS, Dir: "migrations"})

// session is a logged-in operator. Sessions live in the state store, so
// that every gateway instance knows them; the cookie holds an opaque
// random value, the store only its hash.
type session struct {
	Tenant     string
	FiscalCode string
	Name       string
	CSRF       string
	Expires    time.Time
}

type sessions struct{ db *store.DB }

func newSessions(ctx context.Context, db *store.DB) (*sessions, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, fmt.Errorf("alert page sessions in %s: %w", db.Where, err)
	}
	return &sessions{db: db}, nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashOf(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

const stampFormat = time.RFC3339Nano

// create stores a new session and returns the cookie value.
func (s *sessions) create(ctx context.Context, se session) (string, error) {
	v := randomToken()
	// Sessions that ended go when a new one starts: a table that stays small.
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM alertpage_sessions WHERE expires_at < ?`),
		time.Now().UTC().Format(stampFormat)); err != nil {
		return "", fmt.Errorf("alert page sessions: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO alertpage_sessions (id_hash, tenant, fiscal_code, name, csrf, expires_at)
		VALUES (?,?,?,?,?,?)`), hashOf(v), se.Tenant, se.FiscalCode, se.Name, se.CSRF, se.Expires.UTC().Format(stampFormat)); err != nil {
		return "", fmt.Errorf("alert page sessions: %w", err)
	}
	return v, nil
}

var errNoSession = errors.New("no session")

// get returns the tenant's live session of cookie value v.
func (s *sessions) get(ctx context.Context, tenant, v string, now time.Time) (*session, error) {
	se := &session{}
	var exp string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT tenant, fiscal_code, name, csrf, expires_at FROM alertpage_sessions WHERE id_hash = ?`),
		hashOf(v)).Scan(&se.Tenant, &se.FiscalCode, &se.Name, &se.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("alert page sessions: %w", err)
	}
	if se.Expires, err = time.Parse(stampFormat, exp); err != nil || !now.Before(se.Expires) || se.Tenant != tenant {
		return nil, errNoSession
	}
	return se, nil
}

func (s *sessions) delete(ctx context.Context, v string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM alertpage_sessions WHERE id_hash = ?`), hashOf(v))
	return err
}

// validCSRF compares a form's token with the session's in constant time.
func (se *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(se.CSRF)) == 1
}

// sessionCookie is the cookie of a session: HttpOnly, SameSite=Strict (no
// other site can make the browser send it), Secure behind https, scoped
// to the page's path.
func sessionCookie(name, path, value string, expires time.Time, secure bool) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires, c.MaxAge = expires, int(time.Until(expires).Seconds())
	}
	return c
}
