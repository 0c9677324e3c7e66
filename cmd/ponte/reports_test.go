package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/workflows/reports"
)

func reportsCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	old := stdout
	stdout = &out
	defer func() { stdout = old }()
	err := runGroup(context.Background(), "reports", args)
	return out.String(), err
}

// TestReportsListShow: list filters by state and category from the state
// store; show prints the report and the lifecycle's messages; bad flags
// are usage errors.
func TestReportsListShow(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := reports.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	buca := &reports.Report{Tenant: "esempio", ServiceCode: "buca-stradale", ServiceName: "Buca stradale", Address: "Via Roma 1",
		Description: "Buca profonda", Reporter: reports.Reporter{Email: "anna@example.it"}}
	luce := &reports.Report{Tenant: "esempio", ServiceCode: "illuminazione", ServiceName: "Lampione spento", Address: "Piazza Garibaldi"}
	for _, r := range []*reports.Report{buca, luce} {
		if err := st.Create(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetState(ctx, buca.ID, reports.StateInCharge, "Squadra in arrivo"); err != nil {
		t.Fatal(err)
	}
	ob, err := channels.NewOutbox(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Set(ctx, channels.Entry{Key: channels.Key{Scope: reports.Scope("esempio", buca.ID), Slot: reports.StateSlot(reports.StateInCharge, "email")}, Channel: "email", State: channels.StateSent}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	out, err := reportsCmd(t, "list", "--state", dsn, "--tenant", "esempio")
	if err != nil || !strings.Contains(out, buca.ID) || !strings.Contains(out, luce.ID) {
		t.Fatalf("list all: %v\n%s", err, out)
	}
	out, err = reportsCmd(t, "list", "--state", dsn, "--tenant", "esempio", "--states", "in_charge")
	if err != nil || !strings.Contains(out, buca.ID) || strings.Contains(out, luce.ID) {
		t.Fatalf("list in_charge: %v\n%s", err, out)
	}
	out, err = reportsCmd(t, "list", "--state", dsn, "--tenant", "esempio", "--category", "illuminazione")
	if err != nil || strings.Contains(out, buca.ID) || !strings.Contains(out, luce.ID) {
		t.Fatalf("list category: %v\n%s", err, out)
	}
	out, err = reportsCmd(t, "show", "--state", dsn, buca.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"in_charge (open): Squadra in arrivo", "Via Roma 1", "anna@example.it", "state:in_charge:email", "sent"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	var ue usageError
	for _, args := range [][]string{
		{"list", "--state", dsn},
		{"list", "--state", dsn, "--tenant", "esempio", "--states", "closed"},
		{"show", "--state", dsn},
		{"status", "--tenant", "esempio", "x", "--state", "fixed"},
		{"status", "--tenant", "esempio", "x", "--note", "senza stato"},
	} {
		if _, err := reportsCmd(t, args...); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if _, err := reportsCmd(t, "show", "--state", dsn, "nope"); !errors.Is(err, reports.ErrNotFound) {
		t.Errorf("show nope: %v", err)
	}
}
