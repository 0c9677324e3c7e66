package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

// fakeSkebby is Skebby's REST API v1.0 as its documentation describes it
// (docs/sms-providers.md, whose sources are cited there): POST
// /API/v1.0/REST/sms and GET /API/v1.0/REST/sms/{order_id}, each with the
// user_key and Access_token headers. It is judged by the documentation,
// not by our client, and is stricter where that helps: a body field the
// documentation does not list is refused, as a typo in a profile would
// otherwise go unnoticed.
type fakeSkebby struct {
	t                    *testing.T
	userKey, accessToken string

	mu     sync.Mutex
	sent   []skebbySend
	states map[string]string // order_id → state
	// stateOf gives the state a new message to a number reaches.
	stateOf map[string]string
}

// skebbySend is the body of "Send an SMS message": the fields documented
// for POST /sms.
type skebbySend struct {
	MessageType            string   `json:"message_type"`
	Message                string   `json:"message"`
	Recipient              []string `json:"recipient"`
	Sender                 *string  `json:"sender"`
	ScheduledDeliveryTime  string   `json:"scheduled_delivery_time"`
	ScheduledDeliveryTZ    string   `json:"scheduled_delivery_timezone"`
	OrderID                string   `json:"order_id"`
	ReturnCredits          bool     `json:"returnCredits"`
	ReturnRemaining        bool     `json:"returnRemaining"`
	AllowInvalidRecipients bool     `json:"allowInvalidRecipients"`
	Encoding               string   `json:"encoding"`
	IDLanding              int      `json:"id_landing"`
	CampaignName           string   `json:"campaign_name"`
	ShortLinkURL           string   `json:"short_link_url"`
}

// "order_id: max 32 chars, accepts only any letters, numbers, underscore,
// dot and dash".
var skebbyOrderID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

func (f *fakeSkebby) authorized(r *http.Request) bool {
	return r.Header.Get("user_key") == f.userKey && r.Header.Get("Access_token") == f.accessToken
}

func (f *fakeSkebby) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("fake Skebby: writing the answer: %v", err)
	}
}

func (f *fakeSkebby) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := http.NewServeMux()
	m.HandleFunc("POST /API/v1.0/REST/sms", f.send)
	m.HandleFunc("GET /API/v1.0/REST/sms/{order_id}", f.state)
	m.ServeHTTP(w, r)
}

func (f *fakeSkebby) send(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) { // 401 "User_key, Token or Session_key are invalid or not provided"
		f.answer(w, http.StatusUnauthorized, map[string]string{"result": "KO", "error": "unauthorized"})
		return
	}
	var in skebbySend
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		f.answer(w, http.StatusBadRequest, map[string]string{"result": "KO", "error": err.Error()})
		return
	}
	bad := ""
	switch {
	case in.MessageType != "GP" && in.MessageType != "TI" && in.MessageType != "SI":
		bad = "message_type"
	case in.Message == "":
		bad = "message"
	case len(in.Recipient) == 0:
		bad = "recipient"
	case in.MessageType == "SI" && in.Sender != nil && *in.Sender != "": // Basic allows no custom TPOA
		bad = "sender"
	case in.OrderID != "" && !skebbyOrderID.MatchString(in.OrderID):
		bad = "order_id"
	case in.Encoding != "" && in.Encoding != "gsm" && in.Encoding != "ucs2":
		bad = "encoding"
	case in.Encoding != "ucs2" && !IsGSM7(in.Message): // "Use UCS2 for non standard character sets"
		bad = "encoding"
	case len([]rune(in.Message)) > 1000 || in.Encoding == "ucs2" && len([]rune(in.Message)) > 450:
		bad = "message"
	}
	if bad != "" {
		f.answer(w, http.StatusBadRequest, map[string]string{"result": "KO", "error": "invalid " + bad})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.states == nil {
		f.states = map[string]string{}
	}
	id := in.OrderID
	if id == "" {
		id = fmt.Sprintf("generated-uuid-%d", len(f.sent))
	}
	f.sent = append(f.sent, in)
	f.states[id] = "WAITING"
	if st, ok := f.stateOf[in.Recipient[0]]; ok {
		f.states[id] = st
	}
	// 201 "SMSs have been scheduled for delivery", with result, order_id
	// and total_sent.
	f.answer(w, http.StatusCreated, map[string]any{"result": "OK", "order_id": id, "total_sent": len(in.Recipient)})
}

func (f *fakeSkebby) state(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		f.answer(w, http.StatusUnauthorized, map[string]string{"result": "KO", "error": "unauthorized"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[r.PathValue("order_id")]
	if !ok { // 404 "The order_id was not found"
		f.answer(w, http.StatusNotFound, map[string]string{"result": "KO", "error": "not found"})
		return
	}
	// The per-recipient states; the exact JSON is not in the stored
	// documentation (docs/sms-providers.md, "What to check").
	f.answer(w, http.StatusOK, map[string]any{"result": "OK", "recipient_number": 1,
		"recipients": []map[string]string{{"status": st, "destination": "+393330000000", "delivery_date": ""}}})
}

// skebbyProfile is the channel block of docs/sms-providers.md, so that the
// document cannot drift from what works.
func skebbyProfile(t *testing.T) map[string]any {
	t.Helper()
	doc, err := os.ReadFile("../../docs/sms-providers.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("<!-- skebby-profile: begin -->\n```yaml\n"))
	block, _, ok2 := bytes.Cut(rest, []byte("```\n<!-- skebby-profile: end -->"))
	if !ok || !ok2 {
		t.Fatal("docs/sms-providers.md has no skebby-profile yaml block")
	}
	v, _, err := schemas.DecodeYAML(block)
	if err != nil {
		t.Fatalf("the Skebby profile is not YAML: %v", err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("the Skebby profile is a %T, want a mapping with channels", v)
	}
	chans, ok := top["channels"].([]any)
	if !ok || len(chans) != 1 {
		t.Fatalf("the Skebby profile has %d channels, want 1", len(chans))
	}
	ch, ok := chans[0].(map[string]any)
	if !ok {
		t.Fatalf("the channel is %T", chans[0])
	}
	return ch
}

func TestSkebbyProfileFromTheDoc(t *testing.T) {
	const userKey, accessToken = "UK0001", "AT-not-secret"
	profile := skebbyProfile(t)
	env := registry.Env{Secret: func(ref string) (string, error) {
		return map[string]string{"env:SKEBBY_USER_KEY": userKey, "env:SKEBBY_ACCESS_TOKEN": accessToken}[ref], nil
	}}
	raw, err := json.Marshal(profile)
	if err != nil {
		t.Fatal(err)
	}
	// As written, against Skebby's real address, the block is a valid channel.
	if probs, err := Kinds.Validate(KindSMS, raw, env); err != nil || len(probs) != 0 {
		t.Fatalf("the documented profile does not validate: %+v %v", probs, err)
	}

	fake := &fakeSkebby{t: t, userKey: userKey, accessToken: accessToken,
		stateOf: map[string]string{"+393330000002": "KO", "+393330000003": "WAIT4DLVR"}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	open := func(t *testing.T, env registry.Env) Sender {
		t.Helper()
		p := map[string]any{}
		for k, v := range profile {
			p[k] = v
		}
		for _, k := range []string{"url", "statusUrl"} {
			u, ok := p[k].(string)
			if !ok || !strings.HasPrefix(u, "https://api.skebby.it/") {
				t.Fatalf("%s is %q, want Skebby's address", k, u)
			}
			p[k] = srv.URL + strings.TrimPrefix(u, "https://api.skebby.it")
		}
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Kinds.Open(KindSMS, raw, env)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(t, env)
	tr, ok := s.(Tracker)
	if !ok || !s.(*SMSSender).Tracking() {
		t.Fatal("the Skebby profile polls no delivery receipts")
	}

	key := "alert:flood-1/12/v1:sms"
	text := "Allerta arancione: evitate i sottopassi e le zone vicine al torrente."
	id, err := s.Send(context.Background(), Message{Key: key, To: Recipient{Phone: "+393330000001"}, Text: text})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if id != SMSReference(ReferenceHash, key) || !skebbyOrderID.MatchString(id) {
		t.Errorf("id %q, want the hashed reference %q", id, SMSReference(ReferenceHash, key))
	}
	fake.mu.Lock()
	got := fake.sent[0]
	fake.mu.Unlock()
	if got.MessageType != "GP" || got.Message != text || len(got.Recipient) != 1 || got.Recipient[0] != "+393330000001" ||
		got.Sender == nil || *got.Sender != profile["sender"] || got.OrderID != id || got.Encoding != "gsm" {
		t.Errorf("Skebby received %+v", got)
	}
	// A retry of the same message sends the same order_id.
	if id2, err := s.Send(context.Background(), Message{Key: key, To: Recipient{Phone: "+393330000001"}, Text: text}); err != nil || id2 != id {
		t.Errorf("resend: %q %v, want %q", id2, err, id)
	}
	// An Italian text with a typographic apostrophe goes as ucs2.
	if _, err := s.Send(context.Background(), Message{Key: "k-ucs2", To: Recipient{Phone: "+393330000001"}, Text: "L’acqua sale: salite ai piani alti."}); err != nil {
		t.Errorf("ucs2 text: %v", err)
	}

	ctx := context.Background()
	fake.mu.Lock()
	fake.states[id] = "DLVRD"
	fake.mu.Unlock()
	if st, err := tr.Delivery(ctx, id); err != nil || st != DeliveryDelivered {
		t.Errorf("DLVRD: %q %v", st, err)
	}
	for phone, want := range map[string]DeliveryState{"+393330000002": DeliveryFailed, "+393330000003": DeliveryPending} {
		id, err := s.Send(ctx, Message{Key: "k" + phone, To: Recipient{Phone: phone}, Text: "x"})
		if err != nil {
			t.Fatalf("send to %s: %v", phone, err)
		}
		if st, err := tr.Delivery(ctx, id); err != nil || st != want {
			t.Errorf("%s: %q %v, want %q", phone, st, err, want)
		}
	}
	if _, err := tr.Delivery(ctx, "no-such-order"); !failure.IsPermanent(err) || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown order_id: %v", err)
	}

	// A wrong access token is refused for good, as is a wrong user_key.
	for name, bad := range map[string]map[string]string{
		"access token": {"env:SKEBBY_USER_KEY": userKey, "env:SKEBBY_ACCESS_TOKEN": "expired"},
		"user key":     {"env:SKEBBY_USER_KEY": "UK9999", "env:SKEBBY_ACCESS_TOKEN": accessToken},
	} {
		s := open(t, registry.Env{Secret: func(ref string) (string, error) { return bad[ref], nil }})
		if _, err := s.Send(ctx, Message{Key: "k-bad", To: Recipient{Phone: "+393330000001"}, Text: "x"}); !failure.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
			t.Errorf("wrong %s: %v", name, err)
		}
	}
	fake.mu.Lock()
	n := len(fake.sent)
	fake.mu.Unlock()
	if n != 5 {
		t.Errorf("Skebby accepted %d messages, want 5", n)
	}
}
