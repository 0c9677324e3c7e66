package info

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Activities are the campaign's steps.
type Activities struct {
	Tenants wfkit.TenantLookup
	Store   *Store
	Conns   *wfkit.Connectors
}

// Scope is the outbox scope of a campaign's messages.
func Scope(tenantID, id string) string { return "info:" + tenantID + ":" + id }

// Slot is the outbox slot of a campaign's message on channel kind.
func Slot(kind string) string { return "msg:" + kind }

// Record stores the campaign and its definition; again, nothing changes.
func (a *Activities) Record(ctx context.Context, in Input) error {
	if _, err := a.Tenants.Get(in.TenantID); err != nil {
		return err
	}
	if in.Definition == nil {
		return wfkit.BadInput("an information campaign needs its definition")
	}
	b, err := json.Marshal(in.Definition)
	if err != nil {
		return wfkit.BadInput("definition: %v", err)
	}
	return wfkit.ActivityError(a.Store.Create(ctx, Record{Tenant: in.TenantID, ID: in.Definition.ID, Topic: in.Definition.Topic, State: StateStaged, Definition: string(b)}))
}

func (a *Activities) load(ctx context.Context, tenantID, id string) (*tenant.Tenant, *Definition, Record, error) {
	t, err := a.Tenants.Get(tenantID)
	if err != nil {
		return nil, nil, Record{}, err
	}
	rec, err := a.Store.Get(ctx, tenantID, id)
	if err != nil {
		return nil, nil, rec, wfkit.ActivityError(err)
	}
	var d Definition
	if err := json.Unmarshal([]byte(rec.Definition), &d); err != nil {
		return nil, nil, rec, wfkit.BadInput("campaign %s: stored definition: %v", id, err)
	}
	return t, &d, rec, nil
}

// StageInput names the campaign to stage.
type StageInput struct{ TenantID, CampaignID string }

// StageResult counts what staging read.
type StageResult struct {
	Read       int            `json:"read"`       // records read from the people sources
	Rejected   int            `json:"rejected"`   // records refused by the sources' checks
	NoConsent  int            `json:"noConsent"`  // people who did not consent to the topic
	Withdrawn  int            `json:"withdrawn"`  // people whose consent was withdrawn
	Outside    int            `json:"outside"`    // people outside the campaign's area
	Duplicates int            `json:"duplicates"` // a person already staged (same fiscal code, phone or e-mail)
	Imported   int            `json:"imported"`   // consent records imported now (first time seen)
	Recipients int            `json:"recipients"` // people the campaign goes to
	BySource   map[string]int `json:"bySource"`
}

// Stage reads the people sources, records (once) the consent each person
// gave in the source as evidence, and stages those whose current consent
// to the topic is granted, within the area. Staging again returns what was
// stored.
func (a *Activities) Stage(ctx context.Context, in StageInput) (StageResult, error) {
	res := StageResult{BySource: map[string]int{}}
	t, d, rec, err := a.load(ctx, in.TenantID, in.CampaignID)
	if err != nil {
		return res, err
	}
	if rec.Recipients >= 0 {
		res.Recipients = rec.Recipients
		return res, nil
	}
	names := d.Sources
	if len(names) == 0 {
		for n := range t.People {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	if len(names) == 0 {
		return res, wfkit.BadInput("tenant %s has no people sources (people: in its config)", t.ID)
	}
	var rs []Recipient
	seen := map[string]bool{}
	now := time.Now()
	for _, name := range names {
		src, err := a.Conns.People(t, name)
		if err != nil {
			return res, err
		}
		st, err := src.Read(ctx, func(p legacy.Person) error {
			res.BySource[name]++
			if !slices.Contains(p.Topics, d.Topic) {
				res.NoConsent++
				return nil
			}
			subject := name + "/" + p.Key
			isNew, err := a.Store.RecordConsent(ctx, Consent{ID: "import:" + t.ID + ":" + subject + ":" + d.Topic, Tenant: t.ID, Subject: subject,
				FiscalCode: p.FiscalCode, Phone: p.Phone, Email: p.Email, Topic: d.Topic, Status: Granted, At: now,
				Source: fmt.Sprintf("%s line %d", name, p.Line)})
			if err != nil {
				return err
			}
			if isNew {
				res.Imported++
			}
			if len(d.Area.ISTAT) > 0 && !slices.Contains(d.Area.ISTAT, p.ISTAT) {
				res.Outside++
				return nil
			}
			c, err := a.Store.ConsentOf(ctx, t.ID, subject, d.Topic)
			if err != nil {
				return err
			}
			if c.Status != Granted {
				res.Withdrawn++
				return nil
			}
			ids := legacy.ContactIDs(p.FiscalCode, p.Phone, p.Email)
			for _, id := range ids {
				if seen[id] {
					res.Duplicates++
					return nil
				}
			}
			for _, id := range ids {
				seen[id] = true
			}
			rs = append(rs, Recipient{Seq: int64(len(rs) + 1), Subject: subject, FiscalCode: p.FiscalCode, Name: strings.TrimSpace(p.Name + " " + p.Surname),
				Email: p.Email, Phone: p.Phone, Lang: p.Lang, Channels: p.Channels})
			return nil
		}, func(legacy.Reject) error {
			res.Rejected++
			return nil
		})
		res.Read += st.Read
		if err != nil {
			return res, wfkit.ActivityError(fmt.Errorf("people source %q: %w", name, err))
		}
		activity.RecordHeartbeat(ctx, res.Read)
	}
	n, err := a.Store.Stage(ctx, t.ID, d.ID, rs)
	res.Recipients = n
	return res, wfkit.ActivityError(err)
}

// BatchInput is one batch of recipients, seq in [From, To).
type BatchInput struct {
	TenantID, CampaignID string
	// PublicURL is the tenant's base URL on the gateway (…/t/<id>) for
	// the unsubscribe links; default its SPID SP's base URL.
	PublicURL string
	From, To  int64
}

// BatchResult counts one batch.
type BatchResult struct {
	Sent        map[string]int `json:"sent"`        // by channel
	Failed      map[string]int `json:"failed"`      // by channel: attempts that failed (the next channel was tried)
	Withdrawn   int            `json:"withdrawn"`   // consent withdrawn since staging: nothing sent
	Unreachable int            `json:"unreachable"` // no channel of the campaign reached them
}

// Add sums counts.
func (r *BatchResult) Add(o BatchResult) {
	if r.Sent == nil {
		r.Sent, r.Failed = map[string]int{}, map[string]int{}
	}
	for k, v := range o.Sent {
		r.Sent[k] += v
	}
	for k, v := range o.Failed {
		r.Failed[k] += v
	}
	r.Withdrawn += o.Withdrawn
	r.Unreachable += o.Unreachable
}

// senders are the campaign's channels, by kind, in its order.
func (a *Activities) senders(t *tenant.Tenant, d *Definition) (map[string]channels.Sender, []string, error) {
	out := map[string]channels.Sender{}
	var order []string
	all, err := a.Conns.Channels(t)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range d.Channels {
		if _, dup := out[c.Kind]; dup {
			continue
		}
		if c.Kind == "appio" {
			if _, ok := t.AppIO.Services[c.purpose()]; !ok {
				return nil, nil, wfkit.BadInput("tenant %s has no App IO service for purpose %q (appio.services)", t.ID, c.purpose())
			}
			io, err := a.Conns.AppIO(t, c.purpose())
			if err != nil {
				return nil, nil, err
			}
			out[c.Kind], order = io, append(order, c.Kind)
			continue
		}
		for _, s := range all {
			if s.Kind() == c.Kind {
				out[c.Kind], order = s, append(order, c.Kind)
				break
			}
		}
	}
	return out, order, nil
}

// SendBatch sends the campaign to one batch: it reads each person's
// consent again (an unsubscribe is honoured at once), then sends on their
// preferred channel among the campaign's that reaches them, the next one
// when that fails for good, in their language, with their unsubscribe
// link. The outbox keeps it exactly once across retries.
func (a *Activities) SendBatch(ctx context.Context, in BatchInput) (BatchResult, error) {
	res := BatchResult{Sent: map[string]int{}, Failed: map[string]int{}}
	t, d, _, err := a.load(ctx, in.TenantID, in.CampaignID)
	if err != nil {
		return res, err
	}
	senders, order, err := a.senders(t, d)
	if err != nil {
		return res, err
	}
	key, err := KeyFor(t)
	if err != nil {
		return res, wfkit.BadInput("%v", err)
	}
	base := strings.TrimRight(in.PublicURL, "/")
	if base == "" && t.SPID != nil {
		base = strings.TrimRight(t.SPID.SP.BaseURL, "/") // the gateway serves the tenant at its SP's base URL
	}
	if base == "" {
		return res, wfkit.BadInput("tenant %s: no public URL for the unsubscribe links: give one (ponte info send --public-url) or configure spid", t.ID)
	}
	rs, err := a.Store.Recipients(ctx, t.ID, d.ID, in.From, in.To)
	if err != nil {
		return res, wfkit.ActivityError(err)
	}
	scope := Scope(t.ID, d.ID)
	type todo struct {
		r    Recipient
		plan []string
		next int
	}
	var people []*todo
	for _, r := range rs {
		c, err := a.Store.ConsentOf(ctx, t.ID, r.Subject, d.Topic)
		if err != nil {
			return res, wfkit.ActivityError(err)
		}
		if c.Status != Granted {
			res.Withdrawn++
			continue
		}
		people = append(people, &todo{r: r, plan: plan(r, senders, order)})
	}
	for len(people) > 0 {
		batch := channels.Batch{Tenant: t.ID, Concurrency: a.Conns.Conc()}
		var sending []*todo
		for _, p := range people {
			for p.next < len(p.plan) {
				k := p.plan[p.next]
				if pc, ok := senders[k].(channels.Prechecker); ok {
					st, _, err := pc.Precheck(ctx, p.r.To())
					if err == nil && st != "" { // cannot receive there: the next channel
						res.Failed[k]++
						p.next++
						continue
					}
				}
				break
			}
			if p.next >= len(p.plan) {
				res.Unreachable++
				continue
			}
			k := p.plan[p.next]
			m := message(d, p.r, k, base+"/info/unsubscribe?token="+url.QueryEscape(Sign(key, Claims{Tenant: t.ID, Campaign: d.ID, Subject: p.r.Subject, Topic: d.Topic})))
			batch.Send = append(batch.Send, channels.Delivery{Key: channels.Key{Scope: scope, Item: p.r.Seq, Slot: Slot(k)}, Sender: senders[k], Message: m})
			sending = append(sending, p)
		}
		if len(batch.Send) == 0 {
			break
		}
		results, err := a.Store.Outbox().Run(ctx, batch)
		if err != nil {
			return res, wfkit.ActivityError(err)
		}
		var retries wfkit.Retries
		people = people[:0]
		for i, r := range results {
			p := sending[i]
			switch r.State {
			case channels.StateSent:
				res.Sent[r.Channel]++
			case channels.StateRetry:
				retries.Add(r.Key.String(), r.Err)
			default: // failed or unknown: the next channel
				res.Failed[r.Channel]++
				p.next++
				people = append(people, p)
			}
		}
		if err := retries.Err("campaign messages", len(results)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// plan is the channel kinds to try for r: their preferences among the
// campaign's, then the campaign's order, each only where it reaches them.
func plan(r Recipient, senders map[string]channels.Sender, order []string) []string {
	var out []string
	to := r.To()
	for _, k := range append(slices.Clone(r.Channels), order...) {
		if s, ok := senders[k]; ok && !slices.Contains(out, k) && s.Reaches(to) {
			out = append(out, k)
		}
	}
	return out
}

// footers end every message with the unsubscribe link.
var footers = map[string]string{
	"it": "Ricevi questo messaggio perché hai dato il consenso alle comunicazioni del Comune su questo tema. Per non riceverne più: %s",
	"en": "You receive this message because you agreed to the comune's messages on this topic. To stop receiving them: %s",
}

// Lang is the language a person reads: English or Italian.
func Lang(l string) string {
	if strings.HasPrefix(strings.ToLower(l), "en") {
		return "en"
	}
	return "it"
}

func message(d *Definition, r Recipient, kind, link string) channels.Message {
	lang := Lang(r.Lang)
	title, text := d.Title.In(lang), d.Text.In(lang)
	foot := fmt.Sprintf(footers[lang], link)
	m := channels.Message{To: r.To(), Subject: title, Text: text + "\n\n" + foot, TTL: 7 * 24 * time.Hour}
	switch kind {
	case "appio":
		m.Markdown = text + "\n\n---\n\n" + fmt.Sprintf(footers[lang], "["+map[string]string{"it": "disiscriviti", "en": "unsubscribe"}[lang]+"]("+link+")")
	case "sms":
		m.Text = title + "\n" + map[string]string{"it": "Disiscriviti: ", "en": "Unsubscribe: "}[lang] + link
	}
	return m
}

// Report is a campaign's final report, kept in the store.
type Report struct {
	Tenant       string         `json:"tenant"`
	Campaign     string         `json:"campaign"`
	Topic        string         `json:"topic"`
	State        string         `json:"state"`
	Stage        StageResult    `json:"stage"`
	Sent         map[string]int `json:"sent"`
	Failed       map[string]int `json:"failed"`
	Outcomes     map[string]int `json:"outcomes"` // sent, withdrawn, unreachable, not_sent (cancelled)
	Unsubscribed []Consent      `json:"unsubscribed"`
	StartedAt    time.Time      `json:"startedAt"`
	EndedAt      time.Time      `json:"endedAt"`
}

// FinishInput ends a campaign.
type FinishInput struct {
	TenantID, CampaignID, State string
	Progress                    Progress
}

// Finish writes the report from the progress and the withdrawals made
// through the campaign's links, and keeps it.
func (a *Activities) Finish(ctx context.Context, in FinishInput) (Report, error) {
	p := in.Progress
	r := Report{Tenant: in.TenantID, Campaign: in.CampaignID, Topic: p.Topic, State: in.State, Stage: p.Stage, Sent: p.Sent, Failed: p.Failed,
		Outcomes: map[string]int{}, StartedAt: p.StartedAt, EndedAt: time.Now().UTC()}
	sent := 0
	for _, n := range p.Sent {
		sent += n
	}
	r.Outcomes["sent"], r.Outcomes["withdrawn"], r.Outcomes["unreachable"] = sent, p.Withdrawn, p.Unreachable
	r.Outcomes["not_sent"] = p.Stage.Recipients - sent - p.Withdrawn - p.Unreachable
	ws, err := a.Store.Withdrawals(ctx, in.TenantID, in.CampaignID)
	if err != nil {
		return r, wfkit.ActivityError(err)
	}
	r.Unsubscribed = ws
	b, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	if err := a.Store.SaveReport(ctx, in.TenantID, in.CampaignID, b); err != nil {
		return r, wfkit.ActivityError(err)
	}
	return r, wfkit.ActivityError(a.Store.SetState(ctx, in.TenantID, in.CampaignID, in.State))
}

// Withdraw records a withdrawal of consent through an unsubscribe link;
// a second one through the same link changes nothing.
func (s *Store) Withdraw(ctx context.Context, c Claims, source string, at time.Time) (bool, error) {
	prev, err := s.ConsentOf(ctx, c.Tenant, c.Subject, c.Topic)
	if err != nil {
		return false, err
	}
	return s.RecordConsent(ctx, Consent{ID: "unsubscribe:" + c.Tenant + ":" + c.Subject + ":" + c.Topic + ":" + c.Campaign, Tenant: c.Tenant,
		Subject: c.Subject, FiscalCode: prev.FiscalCode, Phone: prev.Phone, Email: prev.Email, Topic: c.Topic, Status: Withdrawn, At: at,
		Source: source, Campaign: c.Campaign})
}
