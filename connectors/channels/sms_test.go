package channels

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	smsmock "github.com/ponte-pa/ponte/mocks/sms"
)

func openSMSKind(t *testing.T, cfg string) Sender {
	t.Helper()
	env := registry.Env{Secret: func(string) (string, error) { return smsmock.DefaultToken, nil }}
	s, err := Kinds.Open(KindSMS, json.RawMessage(cfg), env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMSAgainstTheGatewayMock(t *testing.T) {
	gw := smsmock.New(smsmock.Options{Unreachable: []string{"+393330000000"}})
	srv := httptest.NewServer(gw)
	defer srv.Close()
	s := openSMSKind(t, `{"kind":"sms","url":"`+srv.URL+`/messages","sender":"ComuneEsemp","token":"env:T"}`)
	ctx := context.Background()
	to := Recipient{FiscalCode: "RSSMRA80A01H501U", Phone: "+393331234567"}
	if !s.Reaches(to) || s.Reaches(Recipient{Email: "a@b.it"}) {
		t.Fatal("Reaches: an SMS needs a phone number")
	}
	msg := Message{Key: "alert:esempio:9/sms/RSSMRA80A01H501U", To: to, Text: "Allerta arancione: evitate i sottopassi."}
	id, err := s.Send(ctx, msg)
	if err != nil || id != "sms-000001" {
		t.Fatalf("send: %q %v", id, err)
	}
	// A resend after a lost answer gets the same message back, not a second SMS.
	if id2, err := s.Send(ctx, msg); err != nil || id2 != id {
		t.Fatalf("resend: %q %v", id2, err)
	}
	m := gw.Messages()
	if len(m) != 1 || m[0].Resent != 1 || m[0].From != "ComuneEsemp" || m[0].Text != msg.Text || m[0].Reference != msg.Key {
		t.Fatalf("gateway holds %+v", m)
	}
	for _, tt := range []struct {
		name  string
		msg   Message
		fault func()
		class failure.Class
	}{
		{"unreachable number", Message{Key: "k2", To: Recipient{Phone: "+393330000000"}, Text: "x"}, nil, failure.Permanent},
		{"no phone", Message{Key: "k3", To: Recipient{Email: "a@b.it"}, Text: "x"}, nil, failure.Permanent},
		{"too long", Message{Key: "k4", To: to, Text: strings.Repeat("a", 4*153+1)}, nil, failure.Permanent},
		{"gateway 503", Message{Key: "k5", To: to, Text: "x"}, func() { gw.Faults().FailNext(1, 503) }, failure.Retryable},
		{"connection dropped", Message{Key: "k6", To: to, Text: "x"}, func() { gw.Faults().DropNext(1) }, failure.Ambiguous},
	} {
		if tt.fault != nil {
			tt.fault()
		}
		if _, err := s.Send(ctx, tt.msg); failure.Of(err).Class != tt.class {
			t.Errorf("%s: %v (%+v), want class %v", tt.name, err, failure.Of(err), tt.class)
		}
	}
	// A wrong token is refused for good.
	bad := openSMSKind(t, `{"kind":"sms","url":"`+srv.URL+`/messages","sender":"X","token":"env:T","authPrefix":"Token "}`)
	if _, err := bad.Send(ctx, msg); !failure.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong auth: %v", err)
	}
}

// A provider with its own body shape and answer field.
func TestSMSBodyTemplate(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != smsmock.DefaultToken {
			w.WriteHeader(401)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if _, err := w.Write([]byte(`{"order_id":"A-77"}`)); err != nil {
			t.Errorf("writing the answer: %v", err)
		}
	}))
	defer srv.Close()
	s := openSMSKind(t, `{"kind":"sms","url":"`+srv.URL+`","sender":"Comune","token":"env:T","authHeader":"X-Api-Key","authPrefix":"",
		"bodyTemplate":"{\"recipient\":[{{.To}}],\"sender\":{{.From}},\"message\":{{.Text}},\"order_id\":{{.Reference}}}","idField":"order_id"}`)
	id, err := s.Send(context.Background(), Message{Key: "r1", To: Recipient{Phone: "+393331234567"}, Text: "Testo \"con\" virgolette"})
	if err != nil || id != "A-77" {
		t.Fatalf("%q %v", id, err)
	}
	if got["message"] != `Testo "con" virgolette` || got["recipient"].([]any)[0] != "+393331234567" || got["order_id"] != "r1" {
		t.Errorf("body %v", got)
	}
	env := registry.Env{Secret: func(string) (string, error) { return "t", nil }}
	if _, err := Kinds.Open(KindSMS, json.RawMessage(`{"kind":"sms","url":"https://x.example.it","sender":"C","token":"env:T","bodyTemplate":"{{.To}"}`), env); err == nil || !strings.Contains(err.Error(), "bodyTemplate") {
		t.Errorf("bad template: %v", err)
	}
	if _, err := Kinds.Open(KindSMS, json.RawMessage(`{"kind":"sms","url":"https://x.example.it","sender":"C","token":"env:T","bodyTemplate":"to={{.To}}"}`), env); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("template that is not JSON: %v", err)
	}
}

func TestSMSSegments(t *testing.T) {
	for _, tt := range []struct {
		text string
		want int
	}{
		{"", 1},
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3},
		{strings.Repeat("è", 160), 1}, // è is in GSM-7
		{strings.Repeat("€", 80), 1},  // 160 septets: € takes two
		{strings.Repeat("€", 81), 2},  // 162 septets
		{strings.Repeat("ó", 70), 1},  // ó is not GSM-7: UCS-2
		{strings.Repeat("ó", 71), 2},  //
		{strings.Repeat("😀", 35), 1},  // 70 UTF-16 units
		{strings.Repeat("😀", 36), 2},  // 72 units
		{"Allerta: fiume in piena", 1},
	} {
		if got := SMSSegments(tt.text); got != tt.want {
			t.Errorf("SMSSegments(%d × %q…) = %d, want %d", len([]rune(tt.text)), string([]rune(tt.text + " ")[0]), got, tt.want)
		}
	}
}

// Extra headers go with the send and the status poll; the id and the state
// are read at dotted paths, numbers as written; a hashed reference is the
// same on every send of the key.
func TestSMSHeadersPathsAndReference(t *testing.T) {
	var refs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != smsmock.DefaultToken || r.Header.Get("X-Account") != "account-secret" || r.Header.Get("X-Client") != "ponte" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		var answer string
		switch r.Method {
		case http.MethodPost:
			var in struct{ Ref, Enc string }
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				w.WriteHeader(400)
				return
			}
			refs = append(refs, in.Ref+" "+in.Enc)
			answer = `{"data":{"messages":[{"id":12345678901234567890}]}}`
		default:
			answer = `{"items":[{"state":"OK"}]}`
			if r.URL.Path != "/status/12345678901234567890" {
				answer = `{"items":[]}`
			}
		}
		if _, err := w.Write([]byte(answer)); err != nil {
			t.Errorf("writing the answer: %v", err)
		}
	}))
	defer srv.Close()
	env := registry.Env{Secret: func(ref string) (string, error) {
		if ref == "env:ACCOUNT" {
			return "account-secret", nil
		}
		return smsmock.DefaultToken, nil
	}}
	s, err := Kinds.Open(KindSMS, json.RawMessage(`{"kind":"sms","url":"`+srv.URL+`/send","sender":"Comune","token":"env:T",
		"authHeader":"X-Api-Key","authPrefix":"","referenceStyle":"hash",
		"headers":{"X-Account":{"secret":"env:ACCOUNT"},"X-Client":{"value":"ponte"}},
		"bodyTemplate":"{\"to\":{{.To}},\"text\":{{.Text}},\"ref\":{{.Reference}},\"enc\":{{.Encoding}}}",
		"idField":"data.messages.0.id","statusUrl":"`+srv.URL+`/status/{id}","statusField":"items.0.state","delivered":["OK"]}`), env)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := "alert:flood-1/12/v1:sms"
	for _, text := range []string{"Allerta: evitate i sottopassi", "Perché l’acqua sale"} {
		id, err := s.Send(ctx, Message{Key: key, To: Recipient{Phone: "+393331234567"}, Text: text})
		if err != nil || id != "12345678901234567890" {
			t.Fatalf("send: %q %v", id, err)
		}
	}
	want := SMSReference(ReferenceHash, key)
	if len(want) != 32 || strings.Trim(want, "0123456789abcdef") != "" || want == SMSReference(ReferenceHash, key+"x") {
		t.Fatalf("hash reference %q", want)
	}
	if len(refs) != 2 || refs[0] != want+" gsm" || refs[1] != want+" ucs2" {
		t.Errorf("references and encodings sent: %q, want %s with gsm then ucs2", refs, want)
	}
	tr := s.(Tracker)
	for id, st := range map[string]DeliveryState{"12345678901234567890": DeliveryDelivered, "other": DeliveryPending} {
		if got, err := tr.Delivery(ctx, id); err != nil || got != st {
			t.Errorf("delivery of %s: %q %v, want %q", id, got, err, st)
		}
	}
	if SMSReference(ReferenceKey, key) != key || SMSReference("", key) != key {
		t.Error("the key style keeps the key")
	}
}

func TestSMSConfigProblems(t *testing.T) {
	env := registry.Env{Secret: func(string) (string, error) { return "t", nil }}
	base := `"kind":"sms","url":"https://x.example.it","sender":"C","token":"env:T"`
	for _, tt := range []struct{ cfg, pointer, rule string }{
		{`"headers":{"authorization":{"secret":"env:X"}}`, "/headers/authorization", "header"},
		{`"authHeader":"Access_token","headers":{"access_token":{"value":"x"}}`, "/headers/access_token", "header"},
		{`"headers":{"Content-Type":{"value":"text/plain"}}`, "/headers/Content-Type", "header"},
		{`"headers":{"user_key":{"secret":"env:X","value":"x"}}`, "/headers/user_key", "maxProperties"},
		{`"headers":{"user_key":{}}`, "/headers/user_key", "minProperties"},
		{`"headers":{"user_key":{"secret":"plain-value"}}`, "/headers/user_key/secret", "pattern"},
		{`"headers":{"bad header":{"value":"x"}}`, "/headers/bad", "pattern"},
		{`"referenceStyle":"uuid"`, "/referenceStyle", "enum"},
	} {
		probs, err := Kinds.Validate(KindSMS, json.RawMessage(`{`+base+`,`+tt.cfg+`}`), env)
		if err != nil {
			t.Fatalf("%s: %v", tt.cfg, err)
		}
		found := false
		for _, p := range probs {
			if strings.HasPrefix(p.Pointer, tt.pointer) && p.Rule == tt.rule {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: problems %+v, want %s at %s", tt.cfg, probs, tt.rule, tt.pointer)
		}
	}
	if probs, err := Kinds.Validate(KindSMS, json.RawMessage(`{`+base+`,"headers":{"user_key":{"secret":"env:X"},"X-Tag":{"value":"a"}},"referenceStyle":"hash"}`), env); err != nil || len(probs) != 0 {
		t.Errorf("valid headers: %+v %v", probs, err)
	}
}
