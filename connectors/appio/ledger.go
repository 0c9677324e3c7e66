package appio

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/internal/store"
)

// Ledger states of a business key.
const (
	// LedgerSending is written before a submit: the message may be on its
	// way, or an earlier attempt died while sending. Never resend it blindly.
	LedgerSending = "sending"
	// LedgerSent means App IO accepted the message; MessageID is its id.
	LedgerSent = "sent"
	// LedgerFailed means the message was definitely not accepted (an answer
	// said so, or the request never left): a later Begin may send again.
	LedgerFailed = "failed"
	// LedgerUnknown means a submit may or may not have created the message
	// (an ambiguous failure): check in the App IO back office, never resend.
	LedgerUnknown = "unknown"
)

// Entry is what the Ledger knows about a business key.
type Entry struct {
	Key       string
	State     string
	MessageID string
	// Attempts counts the Begin calls that claimed the key.
	Attempts  int
	UpdatedAt time.Time
}

// ErrLedgerKey is returned for an unknown key by Done and Fail, and for an
// empty key by every method.
var ErrLedgerKey = errors.New("appio: ledger: no such key")

// Ledger makes message submission idempotent by business key (for
// example campaign + fiscal code + purpose, see LedgerKey): App IO has no
// idempotency key, so a retry after a crash must find the earlier attempt
// instead of sending a second copy. Use it as
//
//	prev, err := l.Begin(ctx, key)   // nil: go ahead; else do not send
//	id, err := client.SubmitMessage(…)
//	err == nil:          l.Done(ctx, key, id)
//	IsAmbiguous(err):    l.Fail(ctx, key, false) // unknown, never resent
//	otherwise:           l.Fail(ctx, key, true)  // may be retried
//
// The table ponte_appio_ledger lives in the SQL state store; Begin is
// atomic across workers sharing it.
type Ledger struct {
	db      *sql.DB
	dialect string
	now     func() time.Time
}

// LedgerKey joins the parts of a business key with "/" (parts must not
// contain "/" themselves; it is replaced by "_").
func LedgerKey(parts ...string) string {
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, "/", "_")
	}
	return strings.Join(parts, "/")
}

// NewLedger brings the table ponte_appio_ledger up to date (see
// LedgerMigrations) and returns the ledger. dialect is "sqlite" or
// "postgres".
func NewLedger(db *sql.DB, dialect string) (*Ledger, error) {
	if db == nil {
		return nil, errors.New("appio: NewLedger: nil db")
	}
	if dialect != store.SQLite && dialect != store.Postgres {
		return nil, fmt.Errorf("appio: NewLedger: dialect %q, want %q or %q", dialect, store.SQLite, store.Postgres)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.MigrateDB(ctx, db, dialect, LedgerMigrations); err != nil {
		return nil, fmt.Errorf("appio: ledger: %w", err)
	}
	return &Ledger{db: db, dialect: dialect, now: time.Now}, nil
}

func (l *Ledger) q(s string) string { return store.Rebind(l.dialect, s) }

func (l *Ledger) stamp() string { return l.now().UTC().Format(time.RFC3339Nano) }

// Begin claims key for a send. It returns (nil, nil) when the caller may
// submit: the key was new, or its last attempt failed definitely; the key
// is then in state sending. Otherwise it returns the existing entry and the
// caller must not submit: sent (done, MessageID set), sending (another
// worker is sending, or an attempt died mid-send) or unknown.
func (l *Ledger) Begin(ctx context.Context, key string) (*Entry, error) {
	if key == "" {
		return nil, ErrLedgerKey
	}
	res, err := l.db.ExecContext(ctx, l.q(`INSERT INTO ponte_appio_ledger (business_key, state, attempts, updated_at)
		VALUES (?, ?, 1, ?) ON CONFLICT (business_key) DO NOTHING`), key, LedgerSending, l.stamp())
	if err != nil {
		return nil, fmt.Errorf("appio: ledger begin: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	// Re-claim a definite failure; the WHERE makes it atomic.
	res, err = l.db.ExecContext(ctx, l.q(`UPDATE ponte_appio_ledger SET state = ?, attempts = attempts + 1, updated_at = ?
		WHERE business_key = ? AND state = ?`), LedgerSending, l.stamp(), key, LedgerFailed)
	if err != nil {
		return nil, fmt.Errorf("appio: ledger begin: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	e, err := l.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Done records that the message for key was accepted with id.
func (l *Ledger) Done(ctx context.Context, key, id string) error {
	return l.set(ctx, key, LedgerSent, id)
}

// Fail records a failed submit. definite is true when the message was
// certainly not accepted (a later Begin may send again), false when it may
// have been (IsAmbiguous): the key is then unknown and never resent.
func (l *Ledger) Fail(ctx context.Context, key string, definite bool) error {
	state := LedgerUnknown
	if definite {
		state = LedgerFailed
	}
	return l.set(ctx, key, state, "")
}

func (l *Ledger) set(ctx context.Context, key, state, id string) error {
	if key == "" {
		return ErrLedgerKey
	}
	res, err := l.db.ExecContext(ctx, l.q(`UPDATE ponte_appio_ledger SET state = ?, message_id = ?, updated_at = ? WHERE business_key = ?`),
		state, id, l.stamp(), key)
	if err != nil {
		return fmt.Errorf("appio: ledger %s: %w", state, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: %q", ErrLedgerKey, key)
	}
	return nil
}

// Get returns the entry of key, or an error matching ErrLedgerKey.
func (l *Ledger) Get(ctx context.Context, key string) (*Entry, error) {
	if key == "" {
		return nil, ErrLedgerKey
	}
	e := &Entry{Key: key}
	var at string
	err := l.db.QueryRowContext(ctx, l.q(`SELECT state, message_id, attempts, updated_at FROM ponte_appio_ledger WHERE business_key = ?`), key).
		Scan(&e.State, &e.MessageID, &e.Attempts, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrLedgerKey, key)
	}
	if err != nil {
		return nil, fmt.Errorf("appio: ledger get: %w", err)
	}
	e.UpdatedAt, _ = time.Parse(time.RFC3339Nano, at)
	return e, nil
}

// SubmitOnce submits m at most once per businessKey, recording the outcome
// in l. When an earlier attempt is found (sent, sending or unknown) nothing
// is sent and prev describes it; id is then prev.MessageID (empty unless
// sent). A failed submit is recorded as definite or unknown according to
// IsAmbiguous and its error returned.
func (c *Client) SubmitOnce(ctx context.Context, l *Ledger, key, businessKey string, m NewMessage) (id string, prev *Entry, err error) {
	prev, err = l.Begin(ctx, businessKey)
	if err != nil {
		return "", nil, err
	}
	if prev != nil {
		return prev.MessageID, prev, nil
	}
	id, err = c.SubmitMessage(ctx, key, m)
	// Record the outcome even if ctx ended meanwhile.
	rctx := context.WithoutCancel(ctx)
	if err != nil {
		if lerr := l.Fail(rctx, businessKey, !failure.IsAmbiguous(err)); lerr != nil {
			return "", nil, errors.Join(err, lerr)
		}
		return "", nil, err
	}
	if lerr := l.Done(rctx, businessKey, id); lerr != nil {
		// The message exists but the ledger does not say so: the key stays
		// "sending", which blocks a resend. Report both.
		return id, nil, fmt.Errorf("appio: message %s sent but not recorded: %w", id, lerr)
	}
	return id, nil, nil
}
