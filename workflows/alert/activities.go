package alert

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Activities are the alert's steps; each calls connectors through
// wfkit.Connectors and keeps its state in the Store and the outbox.
type Activities struct {
	Tenants wfkit.TenantLookup
	Store   *Store
	Conns   *wfkit.Connectors
}

func (a *Activities) conc() int {
	if a.Conns == nil {
		return 8
	}
	return a.Conns.Conc()
}

// Scope is the outbox scope of an alert's messages.
func Scope(alertID string) string { return "alert:" + alertID }

// Slot is the outbox slot of version v's message on channel kind.
func Slot(v int, kind string) string { return "v" + strconv.Itoa(v) + ":" + kind }

// webhookSlot is the slot of version v's delivery to the tenant's i-th
// webhook (item 0: no person).
func webhookSlot(v, i int) string { return Slot(v, channels.KindWebhook+"-"+strconv.Itoa(i)) }

// StateDelivered is the outbox state of a message its channel confirmed
// delivered (an SMS delivery receipt); a sent message on a channel that
// gives no receipts counts as delivered.
const StateDelivered = "delivered"

// StateUndelivered is the outbox state of a message the channel accepted
// and later reported as not delivered (an SMS delivery receipt).
const StateUndelivered = "undelivered"

// tenantOf finds the tenant and checks it has alerts configured.
func (a *Activities) tenantOf(id string) (*tenant.Tenant, error) {
	t, err := a.Tenants.Get(id)
	if err != nil {
		return nil, err
	}
	if t.Alerts == nil {
		return nil, wfkit.BadInput("tenant %q has no alerts section in its config: add alerts.recipients (people sources) to send alerts", id)
	}
	return t, nil
}

// ParseCAP reads a CAP message kept as text; bad input when it does not
// parse (it was checked before it was stored).
func ParseCAP(s string) (*cap.Alert, error) {
	al, err := cap.Parse(strings.NewReader(s))
	if err != nil {
		return nil, wfkit.BadInput("CAP message: %v", err)
	}
	return al, nil
}

// RecordAlert stores the alert and its first CAP message, written from
// in.Definition when the operator gave one, and returns that message.
func (a *Activities) RecordAlert(ctx context.Context, in Input) (string, error) {
	t, err := a.tenantOf(in.TenantID)
	if err != nil {
		return "", err
	}
	if rec, err := a.Store.Get(ctx, in.AlertID); err == nil && rec.Tenant != in.TenantID {
		return "", wfkit.BadInput("alert id %q is already tenant %q's: give this alert another id", in.AlertID, rec.Tenant)
	} else if err == nil { // an earlier attempt stored it
		vs, err := a.Store.Versions(ctx, rec.ID)
		if err != nil || len(vs) == 0 {
			return "", wfkit.ActivityError(fmt.Errorf("alert %s: %v", rec.ID, err))
		}
		return vs[0].CAP, nil
	}
	capXML := in.CAP
	if in.Definition != nil {
		al, err := in.Definition.ToCAP(t, Identifier(t, in.AlertID, 1), time.Now())
		if err != nil {
			return "", wfkit.BadInput("alert definition: %v", err)
		}
		b, err := cap.Marshal(al)
		if err != nil {
			return "", wfkit.BadInput("alert definition: %v", err)
		}
		capXML = string(b)
	}
	al, err := ParseCAP(capXML)
	if err != nil {
		return "", err
	}
	if al.MsgType != "Alert" {
		return "", wfkit.BadInput("CAP message %s is an %s: an alert starts with msgType Alert (send updates and cancels to the running alert)", al.Identifier, al.MsgType)
	}
	state := StateSending
	if in.AwaitConfirm {
		state = StateAwaiting
	}
	err = a.Store.Create(ctx, Record{ID: in.AlertID, Tenant: in.TenantID, Identifier: al.Identifier, State: state, Origin: in.Origin}, capXML)
	return capXML, wfkit.ActivityError(err)
}

// Identifier is the CAP identifier of version v of a tenant's alert.
func Identifier(t *tenant.Tenant, alertID string, v int) string {
	id := t.IPACode + "." + alertID
	if v > 1 {
		id += ".v" + strconv.Itoa(v)
	}
	return id
}

// Change is an Update or the Cancel of a running alert: a CAP message, or
// a definition to write one from (Update), or Cancel with a reason.
type Change struct {
	CAP        string           `json:"cap,omitempty"`
	Definition *Definition      `json:"definition,omitempty"`
	Cancel     bool             `json:"cancel,omitempty"`
	Reason     tenant.Localized `json:"reason,omitzero"`
	By         string           `json:"by,omitempty"` // who asked: operator fiscal code, "cli"
}

// VersionInput is a Change to record as version Version.
type VersionInput struct {
	AlertID, TenantID string
	Version           int
	Change            Change
}

// VersionResult is the recorded version.
type VersionResult struct {
	MsgType string
	CAP     string
}

// RecordVersion stores an Update or the Cancel as the alert's current
// version, writing its CAP message when the change is a definition or a
// cancel: it references every earlier message, as CAP requires.
func (a *Activities) RecordVersion(ctx context.Context, in VersionInput) (VersionResult, error) {
	t, err := a.tenantOf(in.TenantID)
	if err != nil {
		return VersionResult{}, err
	}
	versions, err := a.Store.Versions(ctx, in.AlertID)
	if err != nil || len(versions) == 0 {
		return VersionResult{}, wfkit.ActivityError(fmt.Errorf("alert %s: no CAP message recorded: %v", in.AlertID, err))
	}
	if len(versions) >= in.Version { // an earlier attempt recorded it
		v := versions[in.Version-1]
		return VersionResult{MsgType: v.MsgType, CAP: v.CAP}, nil
	}
	prev, err := ParseCAP(versions[len(versions)-1].CAP)
	if err != nil {
		return VersionResult{}, err
	}
	var refs []string
	for _, v := range versions {
		old, err := ParseCAP(v.CAP)
		if err != nil {
			return VersionResult{}, err
		}
		refs = append(refs, old.Sender+","+old.Identifier+","+string(must(old.Sent.MarshalText())))
	}
	now := time.Now()
	var al *cap.Alert
	switch c := in.Change; {
	case c.CAP != "":
		if al, err = ParseCAP(c.CAP); err != nil {
			return VersionResult{}, err
		}
		if al.MsgType != "Update" && al.MsgType != "Cancel" {
			return VersionResult{}, wfkit.BadInput("CAP message %s is an %s: a running alert takes an Update or a Cancel", al.Identifier, al.MsgType)
		}
	case c.Definition != nil:
		if al, err = c.Definition.ToCAP(t, Identifier(t, in.AlertID, in.Version), now); err != nil {
			return VersionResult{}, wfkit.BadInput("alert definition: %v", err)
		}
		al.MsgType = "Update"
	case c.Cancel:
		al = cancelOf(prev, Identifier(t, in.AlertID, in.Version), now, c.Reason)
	default:
		return VersionResult{}, wfkit.BadInput("an alert change needs a CAP message, a definition or cancel")
	}
	if al.References == "" {
		al.References = strings.Join(refs, " ")
	}
	if err := al.Validate(); err != nil {
		return VersionResult{}, wfkit.BadInput("CAP %s: %v", al.MsgType, err)
	}
	b, err := cap.Marshal(al)
	if err != nil {
		return VersionResult{}, wfkit.BadInput("CAP %s: %v", al.MsgType, err)
	}
	state := StateSending
	if al.MsgType == "Cancel" {
		state = StateCancelled
	}
	err = a.Store.AddVersion(ctx, in.AlertID, Version{Version: in.Version, MsgType: al.MsgType, Identifier: al.Identifier, CAP: string(b)}, state)
	return VersionResult{MsgType: al.MsgType, CAP: string(b)}, wfkit.ActivityError(err)
}

func must(b []byte, _ error) []byte { return b }

// cancelOf is the Cancel of alert prev: its info blocks, with the reason
// as description and no instruction.
func cancelOf(prev *cap.Alert, id string, now time.Time, reason tenant.Localized) *cap.Alert {
	al := *prev
	al.Identifier, al.MsgType, al.References = id, "Cancel", ""
	al.Sent = cap.Time{Time: now.In(rome.Location).Truncate(time.Second)}
	al.Info = append([]cap.Info(nil), prev.Info...)
	for i := range al.Info {
		lang := "it"
		if strings.HasPrefix(strings.ToLower(al.Info[i].Language), "en") {
			lang = "en"
		}
		al.Info[i].Description = reason.In(lang)
		al.Info[i].Instruction = ""
		al.Info[i].ResponseType = []string{"AllClear"}
		al.Info[i].Urgency, al.Info[i].Certainty = "Past", "Observed"
	}
	return &al
}

// SetState records where the alert stands.
func (a *Activities) SetState(ctx context.Context, id, state string) error {
	return wfkit.ActivityError(a.Store.SetState(ctx, id, state))
}

// senders are the tenant's channels for alerts by kind: App IO (the
// alerts service) when configured, then its channels list; webhooks apart.
func (a *Activities) senders(t *tenant.Tenant) (people map[string]channels.Sender, hooks []channels.Sender, err error) {
	people = map[string]channels.Sender{}
	if _, ok := t.AppIO.Services[t.Alerts.Purpose()]; ok {
		io, err := a.Conns.AppIO(t, t.Alerts.Purpose())
		if err != nil {
			return nil, nil, err
		}
		people[io.Kind()] = io
	}
	chans, err := a.Conns.Channels(t)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range chans {
		if s.Kind() == channels.KindWebhook {
			hooks = append(hooks, s)
			continue
		}
		if _, dup := people[s.Kind()]; !dup {
			people[s.Kind()] = s
		}
	}
	return people, hooks, nil
}

// plan is the channel kinds to try for r, in order: the person's
// preferences, then the tenant's order, then any other channel the tenant
// has, each only when it can address the person.
func plan(r Recipient, senders map[string]channels.Sender, order []string) []string {
	to := r.To()
	var out []string
	add := func(k string) {
		if s, ok := senders[k]; ok && !slices.Contains(out, k) && s.Reaches(to) {
			out = append(out, k)
		}
	}
	for _, k := range r.Channels {
		add(k)
	}
	for _, k := range order {
		add(k)
	}
	rest := make([]string, 0, len(senders))
	for k := range senders {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	for _, k := range rest {
		add(k)
	}
	return out
}

// To is the recipient as channels address people.
func (r Recipient) To() channels.Recipient {
	return channels.Recipient{FiscalCode: r.FiscalCode, Name: r.Name, Email: r.Email, Phone: r.Phone, Lang: r.Lang}
}

// RoundInput is one batch of recipients in one round of one version.
type RoundInput struct {
	AlertID, TenantID string
	Version           int
	MsgType           string // Alert, Update, Cancel
	Round             int
	// AllAtOnce sends on every channel that reaches a person (rosso,
	// allarme), instead of one channel per round.
	AllAtOnce bool
	// Started is when the round began: a person with a message of this
	// version attempted since was already handled by this round (an
	// earlier attempt of the activity) and does not escalate again.
	Started time.Time
	// EscalateWaiting: the round comes after EscalateAfter, so a person
	// whose message is sent but not confirmed delivered gets the next
	// channel; otherwise only failed sends move on.
	EscalateWaiting bool
	From, To        int64
}

// RoundResult counts one batch after a round.
type RoundResult struct {
	Sent      map[string]int `json:"sent"`   // messages sent in this round, by channel
	Failed    map[string]int `json:"failed"` // failed, undelivered or unknown in this round, by channel
	Reached   int            `json:"reached"`
	Waiting   int            `json:"waiting"`   // sent, delivery not confirmed, no channel left
	Pending   int            `json:"pending"`   // not reached, a channel left for the next round
	Exhausted int            `json:"exhausted"` // not reached, no channel left
	Skipped   int            `json:"skipped"`   // a Cancel: never reached, nothing to revoke
}

// Add sums counts.
func (r *RoundResult) Add(o RoundResult) {
	if r.Sent == nil {
		r.Sent, r.Failed = map[string]int{}, map[string]int{}
	}
	for k, v := range o.Sent {
		r.Sent[k] += v
	}
	for k, v := range o.Failed {
		r.Failed[k] += v
	}
	r.Reached += o.Reached
	r.Waiting += o.Waiting
	r.Pending += o.Pending
	r.Exhausted += o.Exhausted
	r.Skipped += o.Skipped
}

// person is one recipient's messages during a round.
type person struct {
	r       Recipient
	plan    []string
	entries map[string]channels.Entry // this version's, by kind
}

// SendRound sends one round of one version to recipients [From, To): to
// each person not reached yet, the next channel of their plan (every
// channel at once with AllAtOnce), again any channel that failed for a
// moment; a Cancel goes once to each person an earlier version reached,
// on the channel that reached them. A sent message on a channel that
// reports deliveries counts once the channel says delivered.
func (a *Activities) SendRound(ctx context.Context, in RoundInput) (RoundResult, error) {
	res := RoundResult{Sent: map[string]int{}, Failed: map[string]int{}}
	t, err := a.tenantOf(in.TenantID)
	if err != nil {
		return res, err
	}
	senders, _, err := a.senders(t)
	if err != nil {
		return res, err
	}
	rs, err := a.Store.Recipients(ctx, in.AlertID, in.From, in.To)
	if err != nil {
		return res, wfkit.ActivityError(err)
	}
	versions, err := a.Store.Versions(ctx, in.AlertID)
	if err != nil || len(versions) < in.Version {
		return res, wfkit.ActivityError(fmt.Errorf("alert %s: version %d not recorded: %v", in.AlertID, in.Version, err))
	}
	al, err := ParseCAP(versions[in.Version-1].CAP)
	if err != nil {
		return res, err
	}
	kinds := make([]string, 0, len(senders))
	for k := range senders {
		kinds = append(kinds, k)
	}
	scope := Scope(in.AlertID)
	entriesOf := func(v int) (map[int64]map[string]channels.Entry, error) {
		out := map[int64]map[string]channels.Entry{}
		for _, k := range kinds {
			es, err := a.Store.Outbox().Entries(ctx, scope, Slot(v, k), in.From, in.To)
			if err != nil {
				return nil, err
			}
			for item, e := range es {
				if out[item] == nil {
					out[item] = map[string]channels.Entry{}
				}
				out[item][k] = e
			}
		}
		return out, nil
	}
	current, err := entriesOf(in.Version)
	if err != nil {
		return res, wfkit.ActivityError(err)
	}
	order := t.Alerts.ChannelOrder()
	people := make([]person, len(rs))
	for i, r := range rs {
		people[i] = person{r: r, plan: plan(r, senders, order), entries: current[r.Seq]}
	}
	if in.MsgType == "Cancel" {
		return a.sendCancel(ctx, t, in, al, senders, people, res)
	}
	if err := a.confirmDeliveries(ctx, scope, in.Version, senders, people); err != nil {
		return res, err
	}
	batch := channels.Batch{Tenant: t.ID, Concurrency: a.conc()}
	contents := map[string]Content{}
	message := func(r Recipient, kind string) channels.Message {
		lang := r.Lang
		if lang != "en" {
			lang = "it"
		}
		c, ok := contents[lang]
		if !ok {
			c = ContentOf(al, lang)
			contents[lang] = c
		}
		m := c.Message(kind)
		m.To = r.To()
		m.TTL = 24 * time.Hour
		return m
	}
	for _, p := range people {
		reached, waiting, acted := false, false, false
		for k, e := range p.entries {
			switch {
			case e.State == StateDelivered, e.State == channels.StateSent && !channels.Tracks(senders[k]):
				reached = true
			case e.State == channels.StateSent:
				waiting = true
			}
			acted = acted || !e.UpdatedAt.Before(in.Started)
		}
		if reached {
			res.Reached++
			continue
		}
		var sends []string
		fresh := ""
		for _, k := range p.plan {
			e, tried := p.entries[k]
			switch {
			case tried && e.State == channels.StateRetry:
				sends = append(sends, k)
			case !tried && fresh == "":
				fresh = k
				if !acted && (!waiting || in.EscalateWaiting) || in.AllAtOnce {
					sends = append(sends, k)
				}
			case !tried && in.AllAtOnce:
				sends = append(sends, k)
			}
		}
		if len(sends) == 0 {
			switch {
			case waiting:
				res.Waiting++
			case fresh == "":
				res.Exhausted++
			default:
				res.Pending++ // handled by an earlier attempt of this round
			}
			continue
		}
		for _, k := range sends {
			key := channels.Key{Scope: scope, Item: p.r.Seq, Slot: Slot(in.Version, k)}
			batch.Send = append(batch.Send, channels.Delivery{Key: key, Sender: senders[k], Message: message(p.r, k)})
		}
	}
	if err := a.precheck(ctx, &batch); err != nil {
		return res, err
	}
	results, err := a.Store.Outbox().Run(ctx, batch)
	if err != nil {
		return res, wfkit.ActivityError(err)
	}
	for _, o := range batch.Record {
		res.Failed[o.Channel]++
		res.Pending++ // their next channel goes in the next round, at once
	}
	// A person counts once: reached when a send of this round got through
	// on a channel that does not report deliveries, waiting when it got
	// through on one that does, else pending (the next round tries the
	// next channel, or this one again after a temporary failure).
	outcome := map[int64]string{}
	rank := map[string]int{"": 0, "pending": 1, "waiting": 2, "reached": 3}
	for _, r := range results {
		o := "pending"
		switch r.State {
		case channels.StateSent, StateDelivered:
			if !r.Before {
				res.Sent[r.Channel]++
			}
			o = "reached"
			if r.State == channels.StateSent && channels.Tracks(senders[r.Channel]) {
				o = "waiting"
			}
		default:
			if !r.Before {
				res.Failed[r.Channel]++
			}
		}
		if rank[o] > rank[outcome[r.Key.Item]] {
			outcome[r.Key.Item] = o
		}
	}
	for _, o := range outcome {
		switch o {
		case "reached":
			res.Reached++
		case "waiting":
			res.Waiting++
		default:
			res.Pending++
		}
	}
	return res, nil
}

// confirmDeliveries asks the channels that report deliveries about this
// version's messages sent and not confirmed yet: delivered ones become
// StateDelivered, failed ones StateUndelivered (the next round tries
// another channel), pending ones stay sent.
func (a *Activities) confirmDeliveries(ctx context.Context, scope string, version int, senders map[string]channels.Sender, people []person) error {
	type check struct {
		p    *person
		kind string
		e    channels.Entry
	}
	var checks []check
	for i := range people {
		for k, e := range people[i].entries {
			if e.State == channels.StateSent && e.MessageID != "" && channels.Tracks(senders[k]) {
				checks = append(checks, check{&people[i], k, e})
			}
		}
	}
	if len(checks) == 0 {
		return nil
	}
	states := make([]channels.DeliveryState, len(checks))
	if err := wfkit.ForEach(ctx, a.conc(), indexes(len(checks)), func(i int) {
		st, err := senders[checks[i].kind].(channels.Tracker).Delivery(ctx, checks[i].e.MessageID)
		if err != nil {
			activity.GetLogger(ctx).Warn("delivery status", "message", checks[i].e.MessageID, "error", err)
			st = channels.DeliveryPending // asked again next round
		}
		states[i] = st
	}); err != nil {
		return err
	}
	for i, c := range checks {
		e := c.e
		switch states[i] {
		case channels.DeliveryDelivered:
			e.State = StateDelivered
		case channels.DeliveryFailed:
			e.State, e.Error = StateUndelivered, "the channel reported the message not delivered"
		default:
			continue
		}
		if err := a.Store.Outbox().Set(ctx, e); err != nil {
			return wfkit.ActivityError(err)
		}
		c.p.entries[c.kind] = e
	}
	return nil
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// sendCancel sends a Cancel to each person an earlier version reached,
// once, on the channel that reached them last.
func (a *Activities) sendCancel(ctx context.Context, t *tenant.Tenant, in RoundInput, al *cap.Alert, senders map[string]channels.Sender, people []person, res RoundResult) (RoundResult, error) {
	scope := Scope(in.AlertID)
	reachedBy := map[int64]string{}
	for v := in.Version - 1; v >= 1; v-- {
		for k := range senders {
			es, err := a.Store.Outbox().Entries(ctx, scope, Slot(v, k), in.From, in.To)
			if err != nil {
				return res, wfkit.ActivityError(err)
			}
			for item, e := range es {
				if _, done := reachedBy[item]; !done && (e.State == channels.StateSent || e.State == StateDelivered) {
					reachedBy[item] = k
				}
			}
		}
	}
	batch := channels.Batch{Tenant: t.ID, Concurrency: a.conc()}
	contents := map[string]Content{}
	for _, p := range people {
		k, ok := reachedBy[p.r.Seq]
		if !ok {
			res.Skipped++
			continue
		}
		lang := map[bool]string{true: "en", false: "it"}[p.r.Lang == "en"]
		c, ok := contents[lang]
		if !ok {
			c = ContentOf(al, lang)
			contents[lang] = c
		}
		m := c.Message(k)
		m.To = p.r.To()
		batch.Send = append(batch.Send, channels.Delivery{Key: channels.Key{Scope: scope, Item: p.r.Seq, Slot: Slot(in.Version, k)}, Sender: senders[k], Message: m})
	}
	results, err := a.Store.Outbox().Run(ctx, batch)
	if err != nil {
		return res, wfkit.ActivityError(err)
	}
	for _, r := range results {
		if r.State == channels.StateSent {
			res.Reached++
			if !r.Before {
				res.Sent[r.Channel]++
			}
			continue
		}
		res.Exhausted++
		if !r.Before {
			res.Failed[r.Channel]++
		}
	}
	return res, nil
}

// WebhookInput is one version's deliveries to the tenant's webhooks.
type WebhookInput struct {
	AlertID, TenantID string
	Version           int
}

// SendWebhooks posts the version to every webhook of the tenant (sirens,
// displays, the CRM): its text and the CAP message as an attachment.
// It returns how many were delivered.
func (a *Activities) SendWebhooks(ctx context.Context, in WebhookInput) (int, error) {
	t, err := a.tenantOf(in.TenantID)
	if err != nil {
		return 0, err
	}
	_, hooks, err := a.senders(t)
	if err != nil || len(hooks) == 0 {
		return 0, err
	}
	versions, err := a.Store.Versions(ctx, in.AlertID)
	if err != nil || len(versions) < in.Version {
		return 0, wfkit.ActivityError(fmt.Errorf("alert %s: version %d not recorded: %v", in.AlertID, in.Version, err))
	}
	v := versions[in.Version-1]
	al, err := ParseCAP(v.CAP)
	if err != nil {
		return 0, err
	}
	m := ContentOf(al, "it").Message(channels.KindWebhook)
	m.Attachments = []channels.Attachment{{Name: v.Identifier + ".xml", ContentType: "application/cap+xml", Data: []byte(v.CAP)}}
	batch := channels.Batch{Tenant: t.ID}
	for i, h := range hooks {
		batch.Send = append(batch.Send, channels.Delivery{Key: channels.Key{Scope: Scope(in.AlertID), Item: 0, Slot: webhookSlot(in.Version, i)}, Sender: h, Message: m})
	}
	results, err := a.Store.Outbox().Run(ctx, batch)
	if err != nil {
		return 0, wfkit.ActivityError(err)
	}
	n := 0
	var retries wfkit.Retries
	for _, r := range results {
		switch r.State {
		case channels.StateSent:
			n++
		case channels.StateRetry:
			retries.Add(r.Key.String(), r.Err)
		}
	}
	return n, retries.Err("webhook deliveries", len(results))
}

// precheck asks the channels that can tell in advance (App IO's profile
// lookup) whether each person can receive on them; those who cannot are
// recorded with the channel's reason instead of sent to, so that the next
// round moves them on. A lookup that fails for a moment leaves the
// message to be sent: the channel's own answer then decides.
func (a *Activities) precheck(ctx context.Context, b *channels.Batch) error {
	type verdict struct{ state, reason string }
	verdicts := make([]verdict, len(b.Send))
	var idx []int
	for i, d := range b.Send {
		if _, ok := d.Sender.(channels.Prechecker); ok {
			idx = append(idx, i)
		}
	}
	if err := wfkit.ForEach(ctx, a.conc(), idx, func(i int) {
		d := b.Send[i]
		st, reason, err := d.Sender.(channels.Prechecker).Precheck(ctx, d.Message.To)
		if err != nil {
			activity.GetLogger(ctx).Warn("precheck failed, sending anyway", "channel", d.Sender.Kind(), "key", d.Key.String(), "error", err)
			return
		}
		verdicts[i] = verdict{st, reason}
	}); err != nil {
		return err
	}
	keep := b.Send[:0]
	for i, d := range b.Send {
		if v := verdicts[i]; v.state != "" {
			b.Record = append(b.Record, channels.Outcome{Key: d.Key, Channel: d.Sender.Kind(), State: v.state, Error: v.reason})
			continue
		}
		keep = append(keep, d)
	}
	b.Send = keep
	return nil
}
