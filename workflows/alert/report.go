package alert

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Report is an alert's evidence: its CAP messages, counts per channel and
// outcome, timings, and every person with how (or whether) they were
// reached, with their contacts for a phone call when not.
type Report struct {
	Alert     Record          `json:"alert"`
	Versions  []VersionInfo   `json:"versions"`
	Stage     StageResult     `json:"stage"`
	Channels  []ChannelCount  `json:"channels"`
	Reached   int             `json:"reached"`
	Unreached int             `json:"unreached"`
	FirstSent time.Time       `json:"firstSent,omitzero"`
	LastSent  time.Time       `json:"lastSent,omitzero"`
	People    []PersonOutcome `json:"people"`
}

// VersionInfo is one CAP message of the alert.
type VersionInfo struct {
	Version    int       `json:"version"`
	MsgType    string    `json:"msgType"`
	Identifier string    `json:"identifier"`
	Headline   string    `json:"headline"`
	At         time.Time `json:"at"`
}

// ChannelCount is how many messages of a channel ended in one state.
type ChannelCount struct {
	Channel string `json:"channel"`
	State   string `json:"state"`
	Count   int    `json:"count"`
}

// PersonOutcome is one recipient in the report.
type PersonOutcome struct {
	Recipient
	Reached bool      `json:"reached"`
	Channel string    `json:"channel,omitempty"` // what reached them (last version that did)
	Version int       `json:"version,omitempty"`
	At      time.Time `json:"at,omitzero"`
	// Attempts lists every message as "v1:sms=failed (reason)".
	Attempts []string `json:"attempts,omitempty"`
}

// BuildReport assembles the report from the store and the outbox.
func BuildReport(ctx context.Context, st *Store, id string) (*Report, error) {
	rec, err := st.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	r := &Report{Alert: rec}
	versions, err := st.Versions(ctx, id)
	if err != nil {
		return nil, err
	}
	cancelled := false
	for _, v := range versions {
		vi := VersionInfo{Version: v.Version, MsgType: v.MsgType, Identifier: v.Identifier, At: v.CreatedAt}
		if al, err := ParseCAP(v.CAP); err == nil {
			vi.Headline = InfoFor(al, "it").Headline
		}
		cancelled = cancelled || v.MsgType == "Cancel"
		r.Versions = append(r.Versions, vi)
	}
	n := max(rec.Recipients, 0)
	people, err := st.Recipients(ctx, id, 1, int64(n)+1)
	if err != nil {
		return nil, err
	}
	entries, err := st.Outbox().All(ctx, Scope(id))
	if err != nil {
		return nil, err
	}
	byItem := map[int64][]channels.Entry{}
	counts := map[[2]string]int{}
	for _, e := range entries {
		kind := e.Channel
		if kind == "" {
			_, kind, _ = strings.Cut(e.Slot, ":")
		}
		counts[[2]string{kind, e.State}]++
		if e.State == channels.StateSent || e.State == StateDelivered {
			if r.FirstSent.IsZero() || e.UpdatedAt.Before(r.FirstSent) {
				r.FirstSent = e.UpdatedAt
			}
			r.LastSent = maxTime(r.LastSent, e.UpdatedAt)
		}
		if e.Item > 0 {
			byItem[e.Item] = append(byItem[e.Item], e)
		}
	}
	for k, c := range counts {
		r.Channels = append(r.Channels, ChannelCount{Channel: k[0], State: k[1], Count: c})
	}
	sort.Slice(r.Channels, func(i, j int) bool {
		a, b := r.Channels[i], r.Channels[j]
		return a.Channel < b.Channel || a.Channel == b.Channel && a.State < b.State
	})
	cancelVersion := 0
	if cancelled {
		cancelVersion = versions[len(versions)-1].Version
	}
	for _, p := range people {
		po := PersonOutcome{Recipient: p}
		for _, e := range byItem[p.Seq] {
			a := e.Slot + "=" + e.State
			if e.Error != "" {
				a += " (" + e.Error + ")"
			}
			po.Attempts = append(po.Attempts, a)
			v, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(e.Slot, ":", 2)[0], "v"))
			if (e.State == channels.StateSent || e.State == StateDelivered) && v != cancelVersion && v >= po.Version {
				po.Reached, po.Channel, po.Version, po.At = true, e.Channel, v, e.UpdatedAt
			}
		}
		if po.Reached {
			r.Reached++
		} else {
			r.Unreached++
		}
		r.People = append(r.People, po)
	}
	return r, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// WriteCSV writes one row per person (only those not reached with
// unreachedOnly): the list volunteers phone from.
func (r *Report) WriteCSV(w io.Writer, unreachedOnly bool) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"seq", "nome", "codice_fiscale", "telefono", "email", "lingua", "raggiunto", "canale", "versione", "ora", "tentativi", "fonti"}); err != nil {
		return err
	}
	for _, p := range r.People {
		if unreachedOnly && p.Reached {
			continue
		}
		reached, at, v := "no", "", ""
		if p.Reached {
			reached, at, v = "sì", p.At.Format(time.RFC3339), strconv.Itoa(p.Version)
		}
		if err := cw.Write([]string{strconv.FormatInt(p.Seq, 10), p.Name, p.FiscalCode, p.Phone, p.Email, p.Lang, reached, p.Channel, v, at,
			strings.Join(p.Attempts, "; "), p.Sources}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// FinishInput closes a version of an alert.
type FinishInput struct {
	AlertID, TenantID string
	State             string
	Progress          Progress
}

// FinishAlert records the alert's state and keeps its report with it.
func (a *Activities) FinishAlert(ctx context.Context, in FinishInput) error {
	if err := a.Store.SetState(ctx, in.AlertID, in.State); err != nil {
		return wfkit.ActivityError(err)
	}
	r, err := BuildReport(ctx, a.Store, in.AlertID)
	if err != nil {
		return wfkit.ActivityError(err)
	}
	r.Stage = in.Progress.Stage
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("alert report: %w", err)
	}
	return wfkit.ActivityError(a.Store.SaveReport(ctx, in.AlertID, b))
}

// EscalateAfter is the tenant's alerts.escalateAfter.
func (a *Activities) EscalateAfter(_ context.Context, tenantID string) (time.Duration, error) {
	t, err := a.tenantOf(tenantID)
	if err != nil {
		return 0, err
	}
	return t.Alerts.Escalation(), nil
}
