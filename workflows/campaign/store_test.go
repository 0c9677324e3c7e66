package campaign

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
)

func newTestStore(t *testing.T, db *store.DB) *Store {
	t.Helper()
	st, err := NewStore(storetest.Ctx(t), db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func debtor(i int) legacy.Debtor {
	return legacy.Debtor{Line: i + 2, ExternalID: fmt.Sprintf("PR-%d", i), FiscalCode: fmt.Sprintf("RSSMRA80A01H50%dX", i),
		Name: "Mario", Surname: fmt.Sprintf("Rossi%d", i), Email: fmt.Sprintf("m%d@example.it", i),
		AmountCents: int64(10000 + i), DueDate: "2026-12-31", Description: "TARI 2026", Key: fmt.Sprintf("PR-%d", i)}
}

// TestStore exercises every query of the campaign store on each dialect.
func TestStore(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		st := newTestStore(t, db)
		const c = "tari-2026"
		for i := range 6 {
			if err := st.AddItem(storetest.Ctx(t), c, i, debtor(i)); err != nil {
				t.Fatal(err)
			}
		}
		// Staging again changes nothing.
		again := debtor(0)
		again.Surname = "Changed"
		if err := st.AddItem(storetest.Ctx(t), c, 0, again); err != nil {
			t.Fatal(err)
		}
		if err := st.AddItem(storetest.Ctx(t), "other", 0, debtor(9)); err != nil {
			t.Fatal(err)
		}
		// A record without an id keeps its identity (here its position).
		noID := debtor(6)
		noID.ExternalID, noID.Key = "", "csv:debiti.csv:8"
		if err := st.AddItem(storetest.Ctx(t), "noid", 0, noID); err != nil {
			t.Fatal(err)
		}
		if it, err := st.AllItems(storetest.Ctx(t), "noid"); err != nil || len(it) != 1 || it[0].Key != "csv:debiti.csv:8" || it[0].ExternalID != "" {
			t.Fatalf("item without id = %+v, %v", it, err)
		}
		rejects := []legacy.Reject{
			{Source: "tributi", Line: 9, Field: "codice_fiscale", Value: "X", Rule: "fiscal_code", MessageIT: "codice fiscale non valido", MessageEN: "invalid fiscal code"},
			{Source: "tributi", Line: 9, Field: "importo", Value: "0", Rule: "amount", MessageIT: "importo", MessageEN: "amount"},
			{Source: "tributi", Line: 8, Key: "id=42", Field: "scadenza", Value: "x", Rule: "date", MessageIT: "data", MessageEN: "date"},
		}
		for _, r := range append(rejects, rejects[0]) {
			if err := st.AddReject(storetest.Ctx(t), c, r); err != nil {
				t.Fatal(err)
			}
		}

		items, err := st.AllItems(storetest.Ctx(t), c)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 6 || items[0].Surname != "Rossi0" || items[1].Key != "PR-1" || items[5].Seq != 5 || items[3].AmountCents != 10003 ||
			items[2].Email != "m2@example.it" || items[1].State != StateStaged || items[4].FallbackState != "" {
			t.Fatalf("items = %+v", items)
		}
		got, err := st.Rejects(storetest.Ctx(t), c)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].Line != 8 || got[0].Key != "id=42" || got[1].Field != "codice_fiscale" || got[2].MessageEN != "amount" {
			t.Fatalf("rejects = %+v", got)
		}

		// Positions: one by one and in a batch with installments.
		if err := st.SetPosition(storetest.Ctx(t), c, 0, StatePublished, "IUPD-0", "IUV-0", "NAV-0", ""); err != nil {
			t.Fatal(err)
		}
		rate := []Rata{{N: 1, IUV: "IUV-1-1", NAV: "NAV-1-1", AmountCents: 5000, DueDate: "2026-06-30"},
			{N: 2, IUV: "IUV-1-2", NAV: "NAV-1-2", AmountCents: 5001, DueDate: "2026-12-31"}}
		ups := []PositionUpdate{
			{Seq: 1, State: StatePublished, IUPD: "IUPD-1", IUV: "IUV-1", NAV: "NAV-1", Rate: rate},
			{Seq: 2, State: StatePositionFailed, Error: "GPD said no"},
			{Seq: 3, State: StatePublished, IUPD: "IUPD-3", IUV: "IUV-3", NAV: "NAV-3"},
			{Seq: 4, State: StatePublished, IUPD: "IUPD-4", IUV: "IUV-4", NAV: "NAV-4"},
		}
		if err := st.SetPositions(storetest.Ctx(t), c, ups); err != nil {
			t.Fatal(err)
		}
		// A retried batch records the same installments again: no change.
		if err := st.SetPositions(storetest.Ctx(t), c, ups[:1]); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPositions(storetest.Ctx(t), c, nil); err != nil {
			t.Fatal(err)
		}
		window, err := st.Items(storetest.Ctx(t), c, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(window) != 2 || window[0].Seq != 1 || window[0].IUV != "IUV-1" || !slices.Equal(window[0].Rate, rate) ||
			window[1].State != StatePositionFailed || window[1].PositionError != "GPD said no" || window[1].Rate != nil {
			t.Fatalf("items [1, 3) = %+v", window)
		}
		if has, err := st.HasRate(storetest.Ctx(t), c); err != nil || !has {
			t.Errorf("HasRate(%s) = %v, %v", c, has, err)
		}
		if has, err := st.HasRate(storetest.Ctx(t), "other"); err != nil || has {
			t.Errorf("HasRate(other) = %v, %v", has, err)
		}
		owners, err := st.RataByIUV(storetest.Ctx(t), []string{"IUV-1-2", "IUV-unknown"})
		if err != nil {
			t.Fatal(err)
		}
		if o := owners["IUV-1-2"]; len(owners) != 1 || o.CampaignID != c || o.Seq != 1 || o.Rata != rate[1] {
			t.Errorf("RataByIUV = %+v", owners)
		}
		// An empty IUV matches no item, not those without one.
		refs, err := st.ItemsByIUV(storetest.Ctx(t), []string{"IUV-1", "", "IUV-unknown"})
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 1 || refs[0] != (ItemRef{CampaignID: c, Seq: 1, IUPD: "IUPD-1", IUV: "IUV-1", AmountCents: 10001, State: StatePublished}) {
			t.Errorf("ItemsByIUV = %+v", refs)
		}

		// App IO and fallback.
		if err := st.SetIO(storetest.Ctx(t), c, 0, IOSent, "01MSG0", ""); err != nil {
			t.Fatal(err)
		}
		for _, u := range []struct {
			seq            int
			state, id, err string
		}{{1, IONotOnIO, "", ""}, {3, IOUnknown, "", "lost"}, {4, IOSent, "01MSG4", ""}} {
			if err := st.SetIO(storetest.Ctx(t), c, u.seq, u.state, u.id, u.err); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.SetFallback(storetest.Ctx(t), c, 1, FallbackSent, ""); err != nil {
			t.Fatal(err)
		}
		if err := st.SetFallback(storetest.Ctx(t), c, 5, FallbackNoAddress, "no email"); err != nil {
			t.Fatal(err)
		}
		p, err := st.Counts(storetest.Ctx(t), c)
		if err != nil {
			t.Fatal(err)
		}
		want := Progress{Read: 8, Valid: 6, Rejected: 2, PositionsPublished: 4, PositionsFailed: 1, MessagesSent: 2, NotOnIO: 1,
			MessagesUnknown: 1, EmailsSent: 1, NeedPrint: 1}
		if p != want {
			t.Errorf("Counts = %+v\nwant     %+v", p, want)
		}

		// Meta, cancel and its counts.
		if err := st.RecordMeta(storetest.Ctx(t), Meta{CampaignID: c, TenantID: "esempio", Source: "tributi", Subject: "TARI 2026"}); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordMeta(storetest.Ctx(t), Meta{CampaignID: c, TenantID: "esempio", Source: "tributi"}); err != nil {
			t.Errorf("recording the same campaign again: %v", err)
		}
		if err := st.RecordMeta(storetest.Ctx(t), Meta{CampaignID: c, TenantID: "altro"}); err == nil {
			t.Error("campaign id of another tenant accepted")
		}
		if _, err := st.Meta(storetest.Ctx(t), "never"); !errors.Is(err, ErrNoMeta) {
			t.Errorf("Meta of an unknown campaign: %v, want ErrNoMeta", err)
		}
		if err := st.setCancelled(storetest.Ctx(t), c, 0, ""); err != nil { // published: invalidated
			t.Fatal(err)
		}
		if err := st.setCancelled(storetest.Ctx(t), c, 5, ""); err != nil { // staged, no position
			t.Fatal(err)
		}
		if err := st.setCancelled(storetest.Ctx(t), c, 2, "IUPD-2"); err != nil { // position_failed: stays
			t.Fatal(err)
		}
		if err := st.setCancelError(storetest.Ctx(t), c, 3, "GPD refused"); err != nil {
			t.Fatal(err)
		}
		a := &Activities{Store: st}
		cr, err := a.FinishCancel(storetest.Ctx(t), c)
		if err != nil {
			t.Fatal(err)
		}
		if want := (CancelResult{Invalidated: 1, NotCreated: 1, Failed: 1, PaidKept: 2, Skipped: 1}); cr != want {
			t.Errorf("cancel counts = %+v, want %+v", cr, want)
		}
		m, err := st.Meta(storetest.Ctx(t), c)
		if err != nil {
			t.Fatal(err)
		}
		if m.TenantID != "esempio" || m.Subject != "TARI 2026" || m.StartedAt == "" || m.CancelledAt == "" {
			t.Errorf("meta = %+v", m)
		}
		ms, err := st.Campaigns(storetest.Ctx(t), "esempio")
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0] != m {
			t.Errorf("Campaigns(esempio) = %+v", ms)
		}

		// The report joins it all.
		r, err := st.BuildReport(storetest.Ctx(t), c, map[int]Payment{4: {State: "paid", PaidCents: 10004, PaidDate: "2026-05-01", ReceiptIDs: []string{"R1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if r.TenantID != "esempio" || !r.Cancelled || len(r.Debtors) != 6 || r.Totals.Valid != 6 || r.Totals.Rejected != 2 ||
			r.Totals.AmountPaidCents != 10004 {
			t.Errorf("report = %+v", r)
		}
		if _, err := st.BuildReport(storetest.Ctx(t), "never", nil); err == nil {
			t.Error("report of an unknown campaign: no error")
		}
	})
}

// Databases made before versioned migrations: the campaign tables as the
// first release created them (no fallback columns, nothing else), and as
// the release just before the version table (every table, the fallback
// columns added in place, campaign_reminders made by a reminder run).
var preMigrationSchemas = map[string][]string{
	"first release": {
		`CREATE TABLE campaign_items (
			campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, line INTEGER NOT NULL,
			external_id TEXT NOT NULL DEFAULT '', fiscal_code TEXT NOT NULL,
			name TEXT NOT NULL DEFAULT '', surname TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '',
			amount_cents BIGINT NOT NULL, due_date TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
			state TEXT NOT NULL DEFAULT 'staged', iupd TEXT NOT NULL DEFAULT '', iuv TEXT NOT NULL DEFAULT '',
			nav TEXT NOT NULL DEFAULT '', position_error TEXT NOT NULL DEFAULT '',
			io_state TEXT NOT NULL DEFAULT '', io_message_id TEXT NOT NULL DEFAULT '', io_error TEXT NOT NULL DEFAULT '',
			updated_at TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (campaign_id, seq))`,
		`CREATE TABLE campaign_rejects (
			campaign_id TEXT NOT NULL, source TEXT NOT NULL, line INTEGER NOT NULL, field TEXT NOT NULL,
			value TEXT NOT NULL DEFAULT '', rule TEXT NOT NULL DEFAULT '',
			message_it TEXT NOT NULL DEFAULT '', message_en TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (campaign_id, line, field))`,
		`INSERT INTO campaign_items (campaign_id, seq, line, fiscal_code, surname, amount_cents, state, iuv, io_state, io_message_id)
			VALUES ('old', 0, 2, 'RSSMRA80A01H501U', 'Rossi', 12300, 'published', 'IUV-OLD', 'sent', '01OLD')`,
		`INSERT INTO campaign_rejects (campaign_id, source, line, field) VALUES ('old', 'tributi', 3, 'importo')`,
	},
	"last release before the version table": {
		// The first release's two tables, then what NewStore added in place.
		"first release",
		`ALTER TABLE campaign_items ADD COLUMN fallback_state TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE campaign_items ADD COLUMN fallback_error TEXT NOT NULL DEFAULT ''`,
		`CREATE TABLE campaign_meta (
			campaign_id TEXT NOT NULL PRIMARY KEY, tenant_id TEXT NOT NULL, source TEXT NOT NULL DEFAULT '',
			subject TEXT NOT NULL DEFAULT '', started_at TEXT NOT NULL DEFAULT '', cancelled_at TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX campaign_items_iuv ON campaign_items (iuv)`,
		`CREATE TABLE campaign_installments (
			campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, n INTEGER NOT NULL,
			iuv TEXT NOT NULL, nav TEXT NOT NULL, amount_cents BIGINT NOT NULL, due_date TEXT NOT NULL,
			PRIMARY KEY (campaign_id, seq, n))`,
		`CREATE INDEX campaign_installments_iuv ON campaign_installments (iuv)`,
		`CREATE TABLE campaign_reminders (
			campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, n INTEGER NOT NULL,
			channel TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, message_id TEXT NOT NULL DEFAULT '',
			error TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL,
			PRIMARY KEY (campaign_id, seq, n))`,
		`UPDATE campaign_items SET fallback_state = 'email_sent'`,
		`INSERT INTO campaign_meta (campaign_id, tenant_id) VALUES ('old', 'esempio')`,
		`INSERT INTO campaign_installments VALUES ('old', 0, 1, 'IUV-OLD-1', 'NAV-OLD-1', 6150, '2026-06-30')`,
		`INSERT INTO campaign_reminders (campaign_id, seq, n, state, updated_at) VALUES ('old', 0, 1, 'sent', '2026-01-01T00:00:00Z')`,
	},
}

func TestStoreUpgradesPreMigrationDatabases(t *testing.T) {
	for name := range preMigrationSchemas {
		t.Run(name, func(t *testing.T) {
			storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
				var run func(stmts []string)
				run = func(stmts []string) {
					for _, q := range stmts {
						if inner, ok := preMigrationSchemas[q]; ok {
							run(inner)
							continue
						}
						if _, err := db.ExecContext(storetest.Ctx(t), q); err != nil {
							t.Fatalf("%s: %v", q, err)
						}
					}
				}
				run(preMigrationSchemas[name])
				st := newTestStore(t, db)
				items, err := st.AllItems(storetest.Ctx(t), "old")
				if err != nil {
					t.Fatal(err)
				}
				if len(items) != 1 || items[0].Surname != "Rossi" || items[0].IUV != "IUV-OLD" || items[0].State != StatePublished {
					t.Fatalf("old items = %+v", items)
				}
				// The messages moved to the outbox.
				if it := items[0]; it.IOState != IOSent || it.IOMessageID != "01OLD" {
					t.Errorf("old App IO message = %q %q, want sent 01OLD", it.IOState, it.IOMessageID)
				}
				if it := items[0]; name != "first release" && (it.FallbackState != FallbackSent || it.FallbackChannel != "email") {
					t.Errorf("old fallback = %q via %q, want sent via email", it.FallbackState, it.FallbackChannel)
				}
				rem, err := st.Outbox().Entries(storetest.Ctx(t), Scope("old"), SlotReminder(1), 0, 1)
				if err != nil {
					t.Fatal(err)
				}
				if e := rem[0]; name != "first release" && e.State != channels.StateSent {
					t.Errorf("old reminder 1 = %+v, want sent", rem)
				}
				rejects, err := st.Rejects(storetest.Ctx(t), "old")
				if err != nil {
					t.Fatal(err)
				}
				if len(rejects) != 1 || rejects[0].Field != "importo" {
					t.Errorf("old rejects = %+v", rejects)
				}
				// The columns and tables of later releases work.
				if err := st.SetFallback(storetest.Ctx(t), "old", 0, FallbackRetry, "later"); err != nil {
					t.Fatal(err)
				}
				if err := st.RecordMeta(storetest.Ctx(t), Meta{CampaignID: "new", TenantID: "esempio"}); err != nil {
					t.Fatal(err)
				}
				if err := st.SetPositions(storetest.Ctx(t), "old", []PositionUpdate{{Seq: 0, State: StatePublished, IUV: "IUV-OLD",
					Rate: []Rata{{N: 2, IUV: "IUV-OLD-2", NAV: "NAV-OLD-2", AmountCents: 6150, DueDate: "2026-12-31"}}}}); err != nil {
					t.Fatal(err)
				}
				if err := st.Outbox().Set(storetest.Ctx(t), channels.Entry{Key: channels.Key{Scope: Scope("old"), Item: 0, Slot: SlotReminder(2)},
					Channel: "appio", State: channels.StateSent, MessageID: "01R"}); err != nil {
					t.Fatal(err)
				}
				items, err = st.AllItems(storetest.Ctx(t), "old")
				if err != nil {
					t.Fatal(err)
				}
				if items[0].FallbackState != FallbackRetry || len(items[0].Rate) == 0 || items[0].Rate[len(items[0].Rate)-1].IUV != "IUV-OLD-2" {
					t.Errorf("item after the upgrade = %+v", items[0])
				}
				v, err := db.Versions(storetest.Ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				if v[Migrations] != 8 || v[channels.Migrations] != 2 {
					t.Errorf("versions %v, want %s at 8 and %s at 2", v, Migrations, channels.Migrations)
				}
				// A second start finds nothing to do.
				newTestStore(t, db)
			})
		})
	}
}

// TestItemsByIUVUsesIndex checks that campaign_items_iuv leaves out the
// items without an IUV and that ItemsByIUV's query can use it (on
// PostgreSQL with sequential scans made too costly to choose, as they are
// for a big table).
func TestItemsByIUVUsesIndex(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		newTestStore(t, db)
		def := `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'campaign_items_iuv'`
		if db.Dialect == store.Postgres {
			def = `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'campaign_items_iuv'`
		}
		var idx string
		if err := db.QueryRowContext(storetest.Ctx(t), def).Scan(&idx); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(idx, "WHERE") || !strings.Contains(idx, "<>") {
			t.Errorf("campaign_items_iuv: %s, want an index of the items with an IUV only", idx)
		}

		tx, err := db.BeginTx(storetest.Ctx(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := tx.Rollback(); err != nil {
				t.Error(err)
			}
		}()
		if db.Dialect == store.Postgres {
			if _, err := tx.ExecContext(storetest.Ctx(t), `SET LOCAL enable_seqscan = off`); err != nil {
				t.Fatal(err)
			}
		}
		// More IUVs than PostgreSQL looks into to prove a partial index's
		// condition (100).
		args := make([]any, 150)
		for i := range args {
			args[i] = fmt.Sprintf("IUV-%d", i)
		}
		plan := storetest.Plan(t, tx, db.Dialect, itemsByIUV(len(args)), args...)
		if !strings.Contains(plan, "campaign_items_iuv") {
			t.Errorf("ItemsByIUV does not use campaign_items_iuv:\n%s", plan)
		}
	})
}
