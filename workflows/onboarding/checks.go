package onboarding

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/connectors/spid"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Checker runs the checks of a tenant. The zero value is ready; the CLI and
// the activities share it.
type Checker struct {
	// Conns opens the tenant's connectors (nil: one of its own).
	Conns *wfkit.Connectors
	// PublicURL is the gateway's public root ("https://ponte.regione.it"):
	// the EC endpoint is checked at PublicURL + nodo.TenantPath(id). Empty:
	// the root of the tenant's SPID baseURL, when it has SPID.
	PublicURL string
	// Timeout bounds each check (default 20s).
	Timeout time.Duration
	// Now is the clock for certificates (default time.Now).
	Now func() time.Time
	// Only, when set, runs these checks and no others (e.g. the ones that
	// need no network, before a comune's credentials exist).
	Only []string
}

func (c *Checker) conns() *wfkit.Connectors {
	if c.Conns == nil {
		c.Conns = &wfkit.Connectors{}
	}
	return c.Conns
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// All runs every check of t, one after the other, stamped at runAt.
func (c *Checker) All(ctx context.Context, t *tenant.Tenant, runAt time.Time) Report {
	r := Report{Tenant: t.ID, Name: Text{IT: t.Name.IT, EN: cmpOr(t.Name.EN, t.Name.IT)}, RunAt: runAt.UTC()}
	for _, check := range Checks {
		if len(c.Only) == 0 || slices.Contains(c.Only, check) {
			r.Items = append(r.Items, c.Run(ctx, t, check))
		}
	}
	return r
}

// Offline are the checks that need no network: what a region can run on
// freshly imported configs.
var Offline = []string{CheckConfig, CheckSecrets, CheckSPIDMetadata, CheckSources}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Run runs one check of t, bounded by Timeout.
func (c *Checker) Run(ctx context.Context, t *tenant.Tenant, check string) Item {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var st Status
	var detail string
	switch check {
	case CheckConfig, CheckSecrets:
		st, detail = c.offline(t, check == CheckSecrets)
	case CheckSPIDMetadata:
		st, detail = c.spidMetadata(t)
	case CheckSPIDIdPs:
		st, detail = c.spidIdPs(ctx, t)
	case CheckAppIO:
		st, detail = c.appIO(ctx, t)
	case CheckGPD:
		st, detail = c.gpd(ctx, t)
	case CheckEC:
		st, detail = c.ec(ctx, t)
	case CheckSources:
		st, detail = c.sources(ctx, t)
	case CheckSMTP:
		st, detail = c.smtp(ctx, t)
	default:
		st, detail = Failed, fmt.Sprintf("unknown check %q (known: %s)", check, strings.Join(Checks, ", "))
	}
	return item(check, st, detail)
}

// offline is tenant.CheckOffline split in two: secrets that do not
// resolve, and every other problem.
func (c *Checker) offline(t *tenant.Tenant, secrets bool) (Status, string) {
	err := t.CheckOffline()
	var ce *tenant.ConfigError
	if err != nil && !errors.As(err, &ce) {
		return Failed, err.Error()
	}
	var msgs []string
	if ce != nil {
		for _, p := range ce.Problems {
			if (p.Rule == "secret") == secrets {
				msgs = append(msgs, fmt.Sprintf("%s: %s", p.Pointer, p.Message))
			}
		}
	}
	if len(msgs) == 0 {
		if secrets {
			return OK, "every secret reference resolves"
		}
		return OK, "valid; files and sources in place"
	}
	if secrets {
		return Missing, strings.Join(msgs, "; ")
	}
	return Failed, strings.Join(msgs, "; ")
}

// spidMetadata builds the SP's signed metadata as `ponte spid metadata`
// does and checks it against every SPID rule (spid.CheckMetadata), the
// certificate included.
func (c *Checker) spidMetadata(t *tenant.Tenant) (Status, string) {
	if t.SPID == nil {
		return Missing, "no spid block: the comune has no SPID/CIE login yet"
	}
	cfg := t.SPID.SP
	if cfg.Key == nil || cfg.Cert == nil {
		return Missing, "the SP has no key or certificate"
	}
	var errs []error
	if err := spid.CheckCert(cfg.Cert, c.now()); err != nil {
		errs = append(errs, fmt.Errorf("certificate: %w", err))
	}
	b, err := spid.SignedMetadata(cfg, fmt.Sprintf("_%x", c.now().UnixNano()))
	if err != nil {
		return Failed, "signed metadata not built: " + err.Error()
	}
	m, err := spid.ParseSPMetadata(b, c.now())
	if err != nil {
		return Failed, "signed metadata does not parse: " + err.Error()
	}
	if err := spid.CheckMetadata(m); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Failed, strings.ReplaceAll(errors.Join(errs...).Error(), "\n", "; ")
	}
	return OK, fmt.Sprintf("signed metadata of %s follows all %d SPID metadata rules", m.EntityID(), len(spid.MetadataRules()))
}

// spidIdPs loads the IdPs as the gateway does: metadata files (at Load),
// metadata URLs and AgID's signed registry.
func (c *Checker) spidIdPs(ctx context.Context, t *tenant.Tenant) (Status, string) {
	if t.SPID == nil {
		return Missing, "no spid block: the comune has no SPID/CIE login yet"
	}
	client := c.conns().HTTPClient()
	n := len(t.SPID.StaticIdPs)
	var probs []string
	for _, u := range t.SPID.IdPURLs {
		idps, err := fetchIdPs(ctx, client, u)
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: %v", u, err))
			continue
		}
		n += len(idps)
	}
	if r := t.SPID.Registry; r != nil {
		reg := spid.NewRegistry()
		l := &spid.AggregateLoader{URL: r.URL, Client: client, Trusted: r.Trusted}
		if err := l.Load(ctx, reg); err != nil {
			probs = append(probs, fmt.Sprintf("registry %s: %v", r.URL, err))
		}
		n += len(reg.List())
	}
	switch {
	case len(probs) > 0:
		return Failed, strings.Join(probs, "; ")
	case n == 0:
		return Missing, "no IdP is configured (spid.registry or spid.idpMetadata)"
	}
	return OK, fmt.Sprintf("%d IdPs loaded", n)
}

func fetchIdPs(ctx context.Context, client *http.Client, u string) ([]*spid.IdP, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	return spid.ParseIdPMetadata(b)
}

func (c *Checker) appIO(ctx context.Context, t *tenant.Tenant) (Status, string) {
	if len(t.AppIO.Services) == 0 {
		return Missing, "no App IO service configured"
	}
	var ok, bad []string
	for _, purpose := range slices.Sorted(maps.Keys(t.AppIO.Services)) {
		s, err := c.conns().AppIO(t, purpose)
		if err == nil {
			err = s.Verify(ctx)
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", purpose, err))
			continue
		}
		ok = append(ok, purpose)
	}
	if len(bad) > 0 {
		return Failed, strings.Join(bad, "; ")
	}
	return OK, fmt.Sprintf("service keys accepted (%s; profile lookup of the test user %s)", strings.Join(ok, ", "), appio.TestFiscalCode)
}

func (c *Checker) gpd(ctx context.Context, t *tenant.Tenant) (Status, string) {
	if t.PagoPA.GPD.BaseURL == "" {
		return Missing, "no GPD base URL"
	}
	g, err := c.conns().GPD(t)
	if err != nil {
		return Failed, err.Error()
	}
	if _, err := g.List(ctx, t.FiscalCode, pagopa.ListOptions{Limit: 1}); err != nil {
		return Failed, err.Error()
	}
	return OK, "the subscription key is accepted (one page of debt positions listed)"
}

// ECURL is where the tenant's EC SOAP endpoint is published, "" when not
// known.
func (c *Checker) ECURL(t *tenant.Tenant) string {
	root := strings.TrimRight(c.PublicURL, "/")
	if root == "" && t.SPID != nil && t.SPID.SP.BaseURL != "" {
		root = strings.TrimSuffix(strings.TrimRight(t.SPID.SP.BaseURL, "/"), t.GatewayPath())
	}
	if root == "" {
		return ""
	}
	return root + nodo.TenantPath(t.ID)
}

// ecProbe is a SOAP request no EC can act on (no operation): the endpoint
// answers it with a SOAP fault, which is all the check needs.
const ecProbe = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>`

// ec posts an empty SOAP envelope to the EC endpoint: any SOAP answer
// (a fault included) means the Nodo can reach it.
func (c *Checker) ec(ctx context.Context, t *tenant.Tenant) (Status, string) {
	u := c.ECURL(t)
	if u == "" {
		return Missing, "the gateway's public URL is not known (no --public-url, no SPID baseURL)"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(ecProbe))
	if err != nil {
		return Failed, err.Error()
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"paVerifyPaymentNotice"`)
	resp, err := c.conns().HTTPClient().Do(req)
	if err != nil {
		return Failed, fmt.Sprintf("%s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Failed, fmt.Sprintf("%s: %v", u, err)
	}
	if !bytes.Contains(b, []byte("Envelope")) {
		return Failed, fmt.Sprintf("%s: HTTP %d without a SOAP envelope", u, resp.StatusCode)
	}
	return OK, fmt.Sprintf("%s answers SOAP (HTTP %d)", u, resp.StatusCode)
}

// errFirst stops a source after its first record.
var errFirst = errors.New("onboarding: first record read")

func (c *Checker) sources(ctx context.Context, t *tenant.Tenant) (Status, string) {
	if len(t.Sources) == 0 && len(t.People) == 0 {
		return Missing, "no source and no people source"
	}
	var ok, bad []string
	for _, name := range slices.Sorted(maps.Keys(t.Sources)) {
		err := c.readSource(ctx, t, name)
		if err != nil {
			bad = append(bad, fmt.Sprintf("source %s: %v", name, err))
			continue
		}
		ok = append(ok, "source "+name)
	}
	for _, name := range slices.Sorted(maps.Keys(t.People)) {
		err := c.readPeople(ctx, t, name)
		if err != nil {
			bad = append(bad, fmt.Sprintf("people %s: %v", name, err))
			continue
		}
		ok = append(ok, "people "+name)
	}
	if len(bad) > 0 {
		return Failed, strings.Join(bad, "; ")
	}
	return OK, "readable: " + strings.Join(ok, ", ")
}

func (c *Checker) readSource(ctx context.Context, t *tenant.Tenant, name string) error {
	src, err := c.conns().Source(t, name)
	if err != nil {
		return err
	}
	_, err = src.Read(ctx, func(legacy.Debtor) error { return errFirst }, func(legacy.Reject) error { return nil })
	if errors.Is(err, errFirst) {
		return nil
	}
	return err
}

func (c *Checker) readPeople(ctx context.Context, t *tenant.Tenant, name string) error {
	src, err := c.conns().People(t, name)
	if err != nil {
		return err
	}
	_, err = src.Read(ctx, func(legacy.Person) error { return errFirst }, func(legacy.Reject) error { return nil })
	if errors.Is(err, errFirst) {
		return nil
	}
	return err
}

// smtp checks every email channel: STARTTLS, AUTH, QUIT.
func (c *Checker) smtp(ctx context.Context, t *tenant.Tenant) (Status, string) {
	var emails []int
	for i, ch := range t.Channels {
		if ch.Kind == "email" {
			emails = append(emails, i)
		}
	}
	if len(emails) == 0 {
		return Missing, "no email channel (SMTP relay)"
	}
	senders, err := c.conns().Channels(t)
	if err != nil {
		return Failed, err.Error()
	}
	var bad []string
	for _, i := range emails {
		v, ok := senders[i].(channels.Verifier)
		if !ok {
			continue
		}
		if err := v.Verify(ctx); err != nil {
			bad = append(bad, fmt.Sprintf("channels/%d: %v", i, err))
		}
	}
	if len(bad) > 0 {
		return Failed, strings.Join(bad, "; ")
	}
	return OK, "the relay accepts STARTTLS and the credentials"
}
