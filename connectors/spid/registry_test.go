package spid_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/mocks/spididp"
)

func TestIdPMetadataAndRegistry(t *testing.T) {
	idp, err := spididp.New(spididp.Options{BaseURL: "https://idp.example"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(path, idp.Metadata(), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := spid.LoadIdPMetadataFile(path)
	if err != nil || len(list) != 1 {
		t.Fatal(err)
	}
	i := list[0]
	if i.EntityID != "https://idp.example" || i.SSORedirect != "https://idp.example/sso" || i.SSOPost != "https://idp.example/sso" || i.SLORedirect != "https://idp.example/slo" || len(i.Certs) != 1 || !i.Certs[0].Equal(idp.Cert()) || i.Name != "Mock SPID IdP" {
		t.Fatalf("%+v", i)
	}
	r := spid.NewRegistry(list...)
	if _, ok := r.Lookup("https://idp.example"); !ok {
		t.Fatal("lookup")
	}
	r.Replace(nil)
	if len(r.List()) != 0 {
		t.Fatal("replace")
	}
	for name, doc := range map[string]string{
		"dtd":      `<!DOCTYPE x [<!ENTITY a "b">]><EntityDescriptor/>`,
		"no-idp":   `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`,
		"not-xml":  `nope`,
		"no-certs": strings.Replace(string(idp.Metadata()), "<md:KeyDescriptor", "<md:Ignored", 1),
	} {
		if _, err := spid.ParseIdPMetadata([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSignedAggregate(t *testing.T) {
	a, err := spididp.New(spididp.Options{BaseURL: "https://a.example"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := spididp.New(spididp.Options{BaseURL: "https://b.example"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "https://agid.example") // the aggregate signer
	agg := etree.NewElement("md:EntitiesDescriptor")
	agg.CreateAttr("xmlns:md", spid.NSMetadata)
	agg.CreateAttr("ID", "_agg")
	for _, s := range []*spididp.Server{a, b} {
		d := etree.NewDocument()
		if err := d.ReadFromBytes(s.Metadata()); err != nil {
			t.Fatal(err)
		}
		agg.AddChild(d.Root())
	}
	ctx, err := dsig.NewSigningContext(cfg.Key, [][]byte{cfg.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(agg)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(signed)
	raw, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	list, err := spid.ParseSignedAggregate(raw, []*x509.Certificate{cfg.Cert})
	if err != nil || len(list) != 2 {
		t.Fatalf("%v %d", err, len(list))
	}
	other, err := spididp.New(spididp.Options{BaseURL: "https://c.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spid.ParseSignedAggregate(raw, []*x509.Certificate{other.Cert()}); err == nil {
		t.Fatal("aggregate accepted with the wrong trust anchor")
	}
	tampered := strings.Replace(string(raw), "https://b.example/sso", "https://evil.example/sso", 1)
	if _, err := spid.ParseSignedAggregate([]byte(tampered), []*x509.Certificate{cfg.Cert}); err == nil {
		t.Fatal("tampered aggregate accepted")
	}

	// The loader: good copy, then failures keep it; a cold start uses the cache.
	var serve atomic.Value
	serve.Store(string(raw))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := serve.Load().(string)
		if v == "500" {
			w.WriteHeader(500)
			return
		}
		if _, err := io.WriteString(w, v); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()
	local, err := spid.ParseIdPMetadata(other.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "registry.xml")
	l := &spid.AggregateLoader{URL: srv.URL, Trusted: []*x509.Certificate{cfg.Cert}, CacheFile: cache, Extra: local,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	reg := spid.NewRegistry()
	if err := l.Load(t.Context(), reg); err != nil || len(reg.List()) != 3 {
		t.Fatalf("load: %v %d", err, len(reg.List()))
	}
	for _, bad := range []string{"500", tampered} {
		serve.Store(bad)
		if err := l.Load(t.Context(), reg); err == nil || len(reg.List()) != 3 {
			t.Fatalf("bad refresh %q: %v %d", bad[:3], err, len(reg.List()))
		}
		if i, ok := reg.Lookup("https://b.example"); !ok || i.SSORedirect != "https://b.example/sso" {
			t.Fatal("last good copy lost")
		}
	}
	cold := spid.NewRegistry()
	if err := l.Load(t.Context(), cold); err == nil || len(cold.List()) != 3 {
		t.Fatalf("cold start from cache: %v %d", err, len(cold.List()))
	}
}

// benchStore answers every read with one pending request and never sees a
// replay, so one signed response can be validated over and over.
type benchStore struct{ p spid.PendingRequest }

func (b *benchStore) Put(context.Context, spid.PendingRequest) error { return nil }
func (b *benchStore) Pending(context.Context, string, time.Time) (spid.PendingRequest, error) {
	return b.p, nil
}
func (b *benchStore) Consume(context.Context, string, []spid.SeenID, time.Time) error { return nil }
func (b *benchStore) Seen(context.Context, string, time.Time) (bool, error)           { return false, nil }
func (b *benchStore) MarkSeen(context.Context, string, time.Time, time.Time) (bool, error) {
	return true, nil
}

// offlineSP is an SP plus one valid signed response to it, without HTTP.
func offlineSP(t testing.TB) (*spid.SP, string) {
	idp, err := spididp.New(spididp.Options{BaseURL: "https://idp.example"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := spid.ParseIdPMetadata(idp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "https://comune.example.it")
	st := &benchStore{p: spid.PendingRequest{ID: "_req1", IdP: "https://idp.example", Level: 2, IssueInstant: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour)}}
	sp, err := spid.NewSP(cfg, spid.NewRegistry(list...), st, spid.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b, err := idp.BuildResponse(spididp.ResponseParams{
		Request: spididp.RequestInfo{ID: "_req1", Level: 2}, ACS: "https://comune.example.it/spid/acs",
		Audience: sp.EntityID(), User: spididp.DefaultUsers()[0], Attributes: []string{"name", "familyName", "fiscalNumber"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sp, base64.StdEncoding.EncodeToString(b)
}

func TestOfflineValidate(t *testing.T) {
	sp, resp := offlineSP(t)
	l, err := sp.ValidateResponse(t.Context(), resp, "")
	if err != nil || l.Attributes["fiscalNumber"] != "TINIT-RSSMRA80A01H501U" || l.Level != 2 {
		t.Fatalf("%v %+v", err, l)
	}
}

// BenchmarkACSValidate measures full validation (parse, two RSA signature
// checks, every SPID check) of a typical signed response.
func BenchmarkACSValidate(b *testing.B) {
	sp, resp := offlineSP(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := sp.ValidateResponse(ctx, resp, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzACS feeds arbitrary SAMLResponse values to the ACS validator: it must
// never panic and must answer with a *ValidationError.
func FuzzACS(f *testing.F) {
	sp, resp := offlineSP(f)
	f.Add(resp)
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base64.StdEncoding.EncodeToString(raw[:len(raw)/2]))
	f.Add(base64.StdEncoding.EncodeToString([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`)))
	f.Add(base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" InResponseTo="_req1"/>`)))
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		_, err := sp.ValidateResponse(context.Background(), in, "")
		var ve *spid.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
