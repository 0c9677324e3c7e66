package spid_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/ponte-pa/ponte/connectors/spid"
)

func tokenSP(t testing.TB, cfg spid.SPConfig, alg string) *spid.SP {
	t.Helper()
	sp, err := spid.NewSP(cfg, spid.NewRegistry(), spid.NewMemoryStore(),
		spid.Options{TokenAlg: alg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

var tokenLogin = &spid.Login{IdP: "https://idp.example", Level: 2, NameID: "_n", NameQualifier: "https://idp.example",
	Attributes: map[string]string{"fiscalNumber": "TINIT-RSSMRA80A01H501U", "name": "Mario", "familyName": "Rossi"}}

// TestTokenAlgorithms: each algorithm signs a token that the published
// JWKS verifies, under the header and key type it names; the JWKS is the
// same for two SPs built from the same key (two replicas, a restart).
func TestTokenAlgorithms(t *testing.T) {
	cfg := testConfig(t, "https://comune.example.it")
	for _, c := range []struct {
		alg, kty string
		keys     int
	}{
		{"", "EC", 2}, // the default
		{spid.TokenES256, "EC", 2},
		{spid.TokenEdDSA, "OKP", 3},
		{spid.TokenRS256, "RSA", 2},
	} {
		t.Run(c.alg, func(t *testing.T) {
			sp := tokenSP(t, cfg, c.alg)
			set, err := jwk.Parse(sp.JWKS())
			if err != nil {
				t.Fatal(err)
			}
			if set.Len() != c.keys {
				t.Fatalf("JWKS has %d keys, want %d: %s", set.Len(), c.keys, sp.JWKS())
			}
			first, ok := set.Key(0)
			if !ok || first.KeyType().String() != c.kty {
				t.Fatalf("first JWKS key %v, want %s", first, c.kty)
			}
			if _, ok := first.(interface{ D() []byte }); ok {
				t.Fatal("JWKS carries a private key")
			}
			tok, err := sp.IssueToken(tokenLogin)
			if err != nil {
				t.Fatal(err)
			}
			want := c.alg
			if want == "" {
				want = spid.TokenES256
			}
			msg, err := jws.Parse(tok)
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Signatures()[0].ProtectedHeaders()
			if h.Algorithm().String() != want || h.KeyID() != first.KeyID() {
				t.Fatalf("header alg %s kid %s; want %s %s", h.Algorithm(), h.KeyID(), want, first.KeyID())
			}
			parsed, err := jwt.Parse(tok, jwt.WithKeySet(set), jwt.WithValidate(true))
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Subject() != "TINIT-RSSMRA80A01H501U" {
				t.Fatalf("sub %q", parsed.Subject())
			}
			if claims, err := sp.ParseToken(tok); err != nil || claims["fiscalNumber"] != "TINIT-RSSMRA80A01H501U" {
				t.Fatalf("ParseToken: %v %v", claims, err)
			}
			if again := tokenSP(t, cfg, c.alg); string(again.JWKS()) != string(sp.JWKS()) {
				t.Fatalf("a second SP on the same key publishes another JWKS:\n%s\n%s", again.JWKS(), sp.JWKS())
			}
			// A tampered signature is refused.
			bad := append([]byte(nil), tok...)
			bad[len(bad)-2] ^= 1
			if _, err := sp.ParseToken(bad); err == nil {
				t.Fatal("tampered token accepted")
			}
		})
	}
}

// TestTokenAlgChangeKeepsTokensValid: a token signed RS256 (before the
// switch, or by a replica not yet upgraded) verifies against the JWKS of an
// SP signing ES256, and the other way round.
func TestTokenAlgChangeKeepsTokensValid(t *testing.T) {
	cfg := testConfig(t, "https://comune.example.it")
	rs, es := tokenSP(t, cfg, spid.TokenRS256), tokenSP(t, cfg, spid.TokenES256)
	for _, c := range []struct {
		name           string
		signer, reader *spid.SP
	}{{"RS256 read by ES256", rs, es}, {"ES256 read by RS256", es, rs}} {
		t.Run(c.name, func(t *testing.T) {
			tok, err := c.signer.IssueToken(tokenLogin)
			if err != nil {
				t.Fatal(err)
			}
			set, err := jwk.Parse(c.reader.JWKS())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jwt.Parse(tok, jwt.WithKeySet(set), jwt.WithValidate(true)); err != nil {
				t.Fatalf("JWKS: %v", err)
			}
			if _, err := c.reader.ParseToken(tok); err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
		})
	}
	// A token of another SP's key is refused.
	ocfg := testConfig(t, "https://comune.example.it")
	var err error
	ocfg.Key, ocfg.Cert, err = spid.GenerateKeyCert(spid.CertOptions{CommonName: "Altro", OrgName: "Altro", IPACode: "c_x001",
		Locality: "Altro", EntityID: "https://comune.example.it/spid/metadata", Bits: 2048, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	other := tokenSP(t, ocfg, spid.TokenES256)
	tok, err := other.IssueToken(tokenLogin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := es.ParseToken(tok); err == nil {
		t.Fatal("token of another key accepted")
	}
}

func TestTokenAlgUnknown(t *testing.T) {
	_, err := spid.NewSP(testConfig(t, "https://comune.example.it"), spid.NewRegistry(), spid.NewMemoryStore(), spid.Options{TokenAlg: "HS256"})
	if err == nil || !strings.Contains(err.Error(), `"HS256"`) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkIssueToken(b *testing.B) {
	cfg := testConfig(b, "https://comune.example.it")
	for _, alg := range spid.TokenAlgs {
		b.Run(alg, func(b *testing.B) {
			sp := tokenSP(b, cfg, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sp.IssueToken(tokenLogin); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
