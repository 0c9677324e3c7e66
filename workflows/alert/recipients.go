package alert

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// StageInput names the alert whose recipients to stage.
type StageInput struct {
	AlertID, TenantID string
}

// StageResult counts what staging read.
type StageResult struct {
	Read       int            `json:"read"`              // records read from the people sources
	Rejected   int            `json:"rejected"`          // records refused by the sources' checks
	Outside    int            `json:"outside"`           // people outside the alert's area
	Merged     int            `json:"merged"`            // records of a person already found (same fiscal code, phone or e-mail)
	Recipients int            `json:"recipients"`        // people the alert goes to
	BySource   map[string]int `json:"bySource"`          // records read per source
	Rejects    []string       `json:"rejects,omitempty"` // the first rejects, for the operator
}

// maxRejectsShown bounds the rejects a StageResult lists.
const maxRejectsShown = 20

// StageRecipients reads the tenant's people sources (alerts.recipients),
// keeps the people in the area of the alert's first message, merges those
// found twice by fiscal code, phone or e-mail, and stores them. Staging an
// alert again returns what was stored.
func (a *Activities) StageRecipients(ctx context.Context, in StageInput) (StageResult, error) {
	res := StageResult{BySource: map[string]int{}}
	t, err := a.tenantOf(in.TenantID)
	if err != nil {
		return res, err
	}
	rec, err := a.Store.Get(ctx, in.AlertID)
	if err != nil {
		return res, wfkit.ActivityError(err)
	}
	if rec.Recipients >= 0 {
		res.Recipients = rec.Recipients
		return res, nil
	}
	versions, err := a.Store.Versions(ctx, in.AlertID)
	if err != nil || len(versions) == 0 {
		return res, wfkit.ActivityError(fmt.Errorf("alert %s: no CAP message recorded: %v", in.AlertID, err))
	}
	al, err := ParseCAP(versions[len(versions)-1].CAP)
	if err != nil {
		return res, err
	}
	area := AreaOf(t, al)
	m := newMerger()
	for _, name := range t.Alerts.Recipients {
		src, err := a.Conns.People(t, name)
		if err != nil {
			return res, err
		}
		st, err := src.Read(ctx, func(p legacy.Person) error {
			res.BySource[name]++
			if !area.Includes(Place{ISTAT: p.ISTAT, Zone: p.Zone, Lat: p.Lat, Lon: p.Lon, HasPoint: p.HasPoint}) {
				res.Outside++
				return nil
			}
			if !m.add(name, p) {
				res.Merged++
			}
			return nil
		}, func(rj legacy.Reject) error {
			res.Rejected++
			if len(res.Rejects) < maxRejectsShown {
				res.Rejects = append(res.Rejects, fmt.Sprintf("%s line %d: %s: %s", name, rj.Line, rj.Field, rj.MessageEN))
			}
			return nil
		})
		res.Read += st.Read
		if err != nil {
			return res, wfkit.ActivityError(fmt.Errorf("people source %q: %w", name, err))
		}
		activity.RecordHeartbeat(ctx, res.Read)
	}
	n, err := a.Store.Stage(ctx, in.AlertID, m.people)
	if err != nil {
		return res, wfkit.ActivityError(err)
	}
	res.Recipients = n
	return res, nil
}

// merger de-duplicates people across sources: a record with the fiscal
// code, phone or e-mail of one already kept adds what it knows to it.
type merger struct {
	people []Recipient
	by     map[string]int // "cf:…", "tel:…", "mail:…" → index
}

func newMerger() *merger { return &merger{by: map[string]int{}} }

// add keeps p, or merges it into the person it is; it reports whether p
// was new.
func (m *merger) add(source string, p legacy.Person) bool {
	for _, id := range legacy.ContactIDs(p.FiscalCode, p.Phone, p.Email) {
		if i, ok := m.by[id]; ok {
			r := &m.people[i]
			fill := func(dst *string, v string) {
				if *dst == "" {
					*dst = v
				}
			}
			fill(&r.FiscalCode, p.FiscalCode)
			fill(&r.Phone, p.Phone)
			fill(&r.Email, p.Email)
			fill(&r.Lang, p.Lang)
			fill(&r.Name, strings.TrimSpace(p.Name+" "+p.Surname))
			for _, c := range p.Channels {
				if !slices.Contains(r.Channels, c) {
					r.Channels = append(r.Channels, c)
				}
			}
			if !slices.Contains(strings.Split(r.Sources, ","), source) {
				r.Sources += "," + source
			}
			for _, id := range legacy.ContactIDs(r.FiscalCode, r.Phone, r.Email) {
				m.by[id] = i
			}
			return false
		}
	}
	r := Recipient{Seq: int64(len(m.people) + 1), Key: p.Key, Sources: source, FiscalCode: p.FiscalCode,
		Name: strings.TrimSpace(p.Name + " " + p.Surname), Email: p.Email, Phone: p.Phone, Lang: p.Lang, Channels: p.Channels}
	for _, id := range legacy.ContactIDs(r.FiscalCode, r.Phone, r.Email) {
		m.by[id] = len(m.people)
	}
	m.people = append(m.people, r)
	return true
}
