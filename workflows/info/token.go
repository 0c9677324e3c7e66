package info

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ponte-pa/ponte/internal/tenant"
)

// Unsubscribe links carry a token: the tenant, campaign, person (subject)
// and topic, signed with HMAC-SHA256 under a key derived from an existing
// tenant secret, so that no new secret has to be configured: the key of
// the tenant's App IO "news" service, or of its first App IO service in
// name order (KeyFor). Rotating that key invalidates the links already
// sent; the comune's operators can still record a withdrawal by hand.

// Claims are what an unsubscribe token says.
type Claims struct {
	Tenant, Campaign, Subject, Topic string
}

// ErrBadToken is returned for a token that does not verify.
var ErrBadToken = errors.New("invalid or tampered unsubscribe link")

// KeyFor derives the tenant's unsubscribe key.
func KeyFor(t *tenant.Tenant) ([]byte, error) {
	names := make([]string, 0, len(t.AppIO.Services))
	for n := range t.AppIO.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if i := slices.Index(names, "news"); i > 0 {
		names[0], names[i] = names[i], names[0]
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("tenant %s: unsubscribe links are signed with a key derived from an App IO service key, and it has none", t.ID)
	}
	secret, err := t.AppIO.Services[names[0]].Key.Resolve()
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("ponte/info/unsubscribe/v1/" + t.ID))
	return m.Sum(nil), nil
}

var b64 = base64.RawURLEncoding

// Sign makes the token for c.
func Sign(key []byte, c Claims) string {
	payload := strings.Join([]string{"v1", c.Tenant, c.Campaign, c.Subject, c.Topic}, "\x1f")
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(m.Sum(nil))
}

// Verify checks token and returns its claims.
func Verify(key []byte, token string) (Claims, error) {
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, ErrBadToken
	}
	payload, err1 := b64.DecodeString(p)
	sig, err2 := b64.DecodeString(s)
	if err1 != nil || err2 != nil {
		return Claims{}, ErrBadToken
	}
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return Claims{}, ErrBadToken
	}
	f := strings.Split(string(payload), "\x1f")
	if len(f) != 5 || f[0] != "v1" {
		return Claims{}, ErrBadToken
	}
	return Claims{Tenant: f[1], Campaign: f[2], Subject: f[3], Topic: f[4]}, nil
}
