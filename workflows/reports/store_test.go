package reports

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

// TestStore on both dialects: a report and its photo are stored together
// and read back whole, by id, token and filter; SetState moves the Open311
// status with the state; a failing insert leaves nothing behind.
func TestStore(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, err := NewStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		clock := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)
		s.now = func() time.Time { return clock }
		r := &Report{Tenant: "esempio", Client: "app-comune", ServiceCode: "buca-stradale", ServiceName: "Buca stradale",
			HasLocation: true, Lat: 44.0612, Long: 12.5662, Address: "Via Roma 1", Description: "Buca profonda",
			Reporter:   Reporter{FiscalCode: "RSSMRA85T10A562S", Email: "mario.rossi@example.it"},
			Attributes: map[string][]string{"dimensione": {"grande"}, "pericolo": {"auto", "bici"}}}
		m := &Media{ContentType: "image/png", Width: 2, Height: 3, Data: []byte{0x89, 'P', 'N', 'G', 0}}
		if err := s.Create(ctx, r, m); err != nil {
			t.Fatal(err)
		}
		if r.ID == "" || r.Token == "" || r.MediaID != m.ID || r.State != StateReceived || !r.Requested.Equal(clock) {
			t.Fatalf("created %+v", r)
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status() != "open" || got.Lat != 44.0612 || got.Long != 12.5662 || !got.HasLocation || got.Reporter != r.Reporter ||
			len(got.Attributes["pericolo"]) != 2 || !got.Requested.Equal(clock) || !got.Expected.IsZero() || got.MediaID != m.ID {
			t.Errorf("read back %+v", got)
		}
		byTok, err := s.ByToken(ctx, "esempio", r.Token)
		if err != nil || byTok.ID != r.ID {
			t.Errorf("by token: %v %v", byTok, err)
		}
		if _, err := s.ByToken(ctx, "altro", r.Token); !errors.Is(err, ErrNotFound) {
			t.Errorf("token of another tenant: %v", err)
		}
		pm, err := s.Media(ctx, "esempio", m.ID)
		if err != nil || string(pm.Data) != string(m.Data) || pm.Width != 2 || pm.ContentType != "image/png" {
			t.Errorf("media %+v %v", pm, err)
		}
		// The same id again fails, and its photo is not stored either.
		m2 := &Media{ContentType: "image/png", Data: []byte{1}}
		if err := s.Create(ctx, &Report{ID: r.ID, Tenant: "esempio", ServiceCode: "x"}, m2); err == nil {
			t.Fatal("a duplicate id was stored")
		}
		if _, err := s.Media(ctx, "esempio", m2.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the photo of a refused report: %v", err)
		}
		clock = clock.Add(time.Hour)
		r2 := &Report{Tenant: "esempio", ServiceCode: "lampione-guasto", Address: "Piazza Grande"}
		if err := s.Create(ctx, r2, nil); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Hour)
		if err := s.SetState(ctx, r.ID, StateResolved, "Buca chiusa / Pothole filled"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetExpected(ctx, r2.ID, clock.Add(48*time.Hour), "Ufficio illuminazione"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetState(ctx, r.ID, "lost", ""); err == nil {
			t.Error("an unknown state was accepted")
		}
		if err := s.SetState(ctx, "nope", StateInCharge, ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		got, err = s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status() != "closed" || got.State != StateResolved || got.StatusNotes != "Buca chiusa / Pothole filled" || !got.Updated.Equal(clock) {
			t.Errorf("after SetState %+v", got)
		}
		for _, c := range []struct {
			f    Filter
			want []string
		}{
			{Filter{Tenant: "esempio"}, []string{r2.ID, r.ID}},
			{Filter{Tenant: "esempio", Statuses: []string{"open"}}, []string{r2.ID}},
			{Filter{Tenant: "esempio", States: []State{StateResolved}}, []string{r.ID}},
			{Filter{Tenant: "esempio", ServiceCodes: []string{"buca-stradale", "rifiuti"}}, []string{r.ID}},
			{Filter{Tenant: "esempio", IDs: []string{r.ID, "nope"}}, []string{r.ID}},
			{Filter{Tenant: "esempio", From: clock.Add(-90 * time.Minute)}, []string{r2.ID}},
			{Filter{Tenant: "esempio", To: clock.Add(-90 * time.Minute)}, []string{r.ID}},
			{Filter{Tenant: "altro"}, nil},
		} {
			rs, err := s.List(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, x := range rs {
				ids = append(ids, x.ID)
			}
			if len(ids) != len(c.want) || (len(ids) > 0 && ids[0] != c.want[0]) {
				t.Errorf("List(%+v) = %v, want %v", c.f, ids, c.want)
			}
		}
		r2got, err := s.Get(ctx, r2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r2got.AgencyResponsible != "Ufficio illuminazione" || !r2got.Expected.Equal(clock.Add(48*time.Hour)) {
			t.Errorf("after SetExpected %+v", r2got)
		}
		n, err := s.Count(ctx, "esempio")
		if err != nil || n != 2 {
			t.Errorf("count %d %v", n, err)
		}
	})
}
