package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/schemas"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// A channel kind that exists only in this test package: an SMS gateway
// that finds the citizen's phone number by fiscal code. It registers itself
// — its config schema and its constructor — exactly as a channel in its own
// package would, and nothing else in Ponte is edited for it.
const smsKind = "sms-test"

func init() {
	schemas.Register("channel-sms-test.schema.json", []byte(`{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://github.com/ponte-pa/ponte/schemas/channel-sms-test.schema.json",
  "type": "object",
  "additionalProperties": false,
  "required": ["kind", "gateway", "sender"],
  "properties": {
    "kind": {"const": "sms-test"},
    "gateway": {"type": "string", "pattern": "^https?://", "x-pattern": "must be an http(s) URL"},
    "sender": {"description": "The SMS sender id (at most 11 characters).", "type": "string", "minLength": 1, "maxLength": 11},
    "token": {"$ref": "tenant.schema.json#/$defs/secret"}
  }
}`))
	channels.Kinds.Register(registry.Kind[channels.Sender]{
		Name:   smsKind,
		Doc:    "SMS through a gateway that resolves the citizen's number from the fiscal code (test only)",
		Schema: "channel-sms-test.schema.json",
		Open: func(raw json.RawMessage, env registry.Env) (channels.Sender, error) {
			var c struct{ Gateway, Sender, Token string }
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, err
			}
			tok, err := env.Secret(c.Token)
			if err != nil {
				return nil, err
			}
			return &smsSender{gateway: c.Gateway, sender: c.Sender, token: tok}, nil
		},
	})
}

type smsSender struct{ gateway, sender, token string }

func (*smsSender) Kind() string                      { return smsKind }
func (*smsSender) Reaches(r channels.Recipient) bool { return len(r.FiscalCode) == 16 }
func (s *smsSender) Send(ctx context.Context, m channels.Message) (string, error) {
	text := m.Subject
	if len(text) > 160 {
		text = text[:160]
	}
	body, err := json.Marshal(map[string]string{"to": m.To.FiscalCode, "from": s.sender, "text": text, "ref": m.Key})
	if err != nil {
		return "", failure.Mark(failure.Permanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.gateway, strings.NewReader(string(body)))
	if err != nil {
		return "", failure.Mark(failure.Permanent, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err // unclassified: retryable
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		return "", failure.Retryablef("sms gateway: %s", resp.Status)
	case resp.StatusCode >= 300:
		return "", failure.Permanentf("sms gateway: %s", resp.Status)
	}
	return "sms-" + m.Key, nil
}

// smsGateway records the SMS it accepts; it answers 503 to the first one,
// as a busy gateway would.
type smsGateway struct {
	mu    sync.Mutex
	first bool
	got   map[string]int // by fiscal code
}

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]string
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || r.Header.Get("Authorization") != "Bearer sms-secret" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.first {
		g.first = true
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	g.got[m["to"]]++
	w.WriteHeader(http.StatusAccepted)
}

// TestNewChannelKindInACampaignFallback: a channel kind added in a test
// package validates its tenant config at load (a bad one is refused with
// file, pointer and rule) and carries a campaign's fallback through the
// outbox, once per debtor, across a temporary failure of its gateway.
func TestNewChannelKindInACampaignFallback(t *testing.T) {
	gw := &smsGateway{got: map[string]int{}}
	gsrv := httptest.NewServer(gw)
	defer gsrv.Close()

	dir := t.TempDir()
	const debtors = 12
	fcs, err := writeDebtorsCSV(filepath.Join(dir, "debtors.csv"), debtors, 0, 11)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody is on App IO: every debtor needs the fallback.
	mocks, err := mockset.Start(mockset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeDebtorsCSV(filepath.Join(dir, "debtors.csv"), debtors, 0, 11); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "sms.token"), []byte("sms-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	withChannel := func(sender string) {
		t.Helper()
		ch := fmt.Sprintf("channels:\n  - kind: %s\n    gateway: %s/send\n    sender: %q\n    token: file:secrets/sms.token\n", smsKind, gsrv.URL, sender)
		if err := os.WriteFile(path, append(append([]byte{}, base...), ch...), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// The kind's schema judges its config at load.
	withChannel("COMUNE-DI-ESEMPIO")
	_, err = tenant.Load(path)
	var ce *tenant.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "/channels/0/sender: maxLength") || !strings.Contains(err.Error(), filepath.Base(path)) {
		t.Fatalf("a sender id longer than 11 characters: %v", err)
	}

	withChannel("COMUNE")
	ctx := context.Background()
	rt := startRuntime(t, path)
	tn, err := rt.Tenant("esempio")
	if err != nil {
		t.Fatal(err)
	}
	in := campaign.Input{CampaignID: "tari-sms", TenantID: tn.ID, Source: firstSourceName(tn), Subject: "TARI 2026", BatchSize: 5}
	p, run := runCampaign(t, rt.Client, in)
	if run.GetID() != campaign.WorkflowID(tn.ID, in.CampaignID) {
		t.Errorf("campaign ran as %s", run.GetID())
	}
	if p.Valid != debtors || p.NotOnIO != debtors || p.EmailsSent != debtors || p.NeedPrint != 0 {
		t.Errorf("progress: valid %d, not on IO %d, fallback sent %d, to print %d; want %d, %d, %d, 0",
			p.Valid, p.NotOnIO, p.EmailsSent, p.NeedPrint, debtors, debtors, debtors)
	}
	gw.mu.Lock()
	for _, fc := range fcs {
		if gw.got[fc] != 1 {
			t.Errorf("debtor %s got %d SMS, want 1", fc, gw.got[fc])
		}
	}
	gw.mu.Unlock()
	st := campaignStore(t, rt)
	rep, err := st.BuildReport(ctx, in.CampaignID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals.ByChannel[smsKind] != debtors {
		t.Errorf("report channels = %v, want %d by %s", rep.Totals.ByChannel, debtors, smsKind)
	}
	es, err := st.Outbox().Entries(ctx, campaign.Scope(in.CampaignID), campaign.SlotFallback, 0, debtors)
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for _, e := range es {
		if e.Channel != smsKind || e.State != channels.StateSent {
			t.Errorf("outbox entry %+v, want sent by %s", e, smsKind)
		}
		if e.Attempts > 1 {
			retried++
		}
	}
	if retried != 1 {
		t.Errorf("%d messages needed a second attempt, want 1 (the gateway's 503)", retried)
	}
}
