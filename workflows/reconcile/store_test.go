package reconcile

import (
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// TestStoreUpgradesPreMigrationTables opens a database made before
// versioned migrations (the reconciliation tables as NewStore created
// them, no version table): stored receipts and anomalies survive.
func TestStoreUpgradesPreMigrationTables(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		for _, q := range []string{
			`CREATE TABLE payment_receipts (
				org TEXT NOT NULL, receipt_id TEXT NOT NULL, iuv TEXT NOT NULL, nav TEXT NOT NULL DEFAULT '',
				source TEXT NOT NULL, outcome TEXT NOT NULL, amount_cents BIGINT NOT NULL, payment_date TEXT NOT NULL,
				debtor_fc TEXT NOT NULL DEFAULT '', payer_fc TEXT NOT NULL DEFAULT '', psp TEXT NOT NULL DEFAULT '',
				received_at TEXT NOT NULL, match_state TEXT NOT NULL DEFAULT '', campaign_id TEXT NOT NULL DEFAULT '',
				seq INTEGER NOT NULL DEFAULT -1, matched_on TEXT NOT NULL DEFAULT '',
				PRIMARY KEY (org, receipt_id))`,
			`CREATE INDEX payment_receipts_match ON payment_receipts (org, match_state)`,
			`CREATE INDEX payment_receipts_item ON payment_receipts (campaign_id, seq)`,
			`CREATE TABLE campaign_payments (
				campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, paid_cents BIGINT NOT NULL,
				paid_date TEXT NOT NULL DEFAULT '', receipt_ids TEXT NOT NULL DEFAULT '', updated_on TEXT NOT NULL DEFAULT '',
				wb_state TEXT NOT NULL DEFAULT '', wb_error TEXT NOT NULL DEFAULT '', wb_on TEXT NOT NULL DEFAULT '',
				PRIMARY KEY (campaign_id, seq))`,
			`CREATE TABLE reconcile_anomalies (
				org TEXT NOT NULL, kind TEXT NOT NULL, receipt_id TEXT NOT NULL, iuv TEXT NOT NULL,
				campaign_id TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL DEFAULT -1,
				expected_cents BIGINT NOT NULL DEFAULT 0, paid_cents BIGINT NOT NULL DEFAULT 0,
				detail_it TEXT NOT NULL DEFAULT '', detail_en TEXT NOT NULL DEFAULT '', found_on TEXT NOT NULL,
				PRIMARY KEY (org, kind, receipt_id))`,
			`INSERT INTO payment_receipts (org, receipt_id, iuv, source, outcome, amount_cents, payment_date, received_at)
				VALUES ('80012345676', 'R-OLD', '01000000000000144', 'gpd', 'OK', 12300, '2026-03-15T10:00:00Z', '2026-03-15T11:00:00Z')`,
			`INSERT INTO campaign_payments (campaign_id, seq, state, paid_cents, paid_date, receipt_ids)
				VALUES ('old', 0, 'paid', 12300, '2026-03-15', 'R-OLD')`,
			`INSERT INTO reconcile_anomalies (org, kind, receipt_id, iuv, found_on)
				VALUES ('80012345676', 'unknown_iuv', 'R-X', '01999', '2026-03-16')`,
		} {
			if _, err := db.ExecContext(storetest.Ctx(t), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		st, err := NewStore(storetest.Ctx(t), db)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := st.Receipts(storetest.Ctx(t), "80012345676")
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].ReceiptID != "R-OLD" || rs[0].AmountCents != 12300 || !rs[0].PaymentDate.Equal(time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("receipts = %+v", rs)
		}
		pays, err := st.Payments(storetest.Ctx(t), "old")
		if err != nil {
			t.Fatal(err)
		}
		if p := pays[0]; len(pays) != 1 || p.State != "paid" || p.PaidCents != 12300 || len(p.ReceiptIDs) != 1 || p.ReceiptIDs[0] != "R-OLD" {
			t.Errorf("payments = %+v", pays)
		}
		an, err := st.Anomalies(storetest.Ctx(t), "80012345676")
		if err != nil {
			t.Fatal(err)
		}
		if len(an) != 1 || an[0].ReceiptID != "R-X" || an[0].Seq != -1 {
			t.Errorf("anomalies = %+v", an)
		}
		v, err := db.Versions(storetest.Ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if v[Migrations] != 1 || v[campaign.Migrations] != 8 {
			t.Errorf("versions %v, want %s at 1 and %s at 8", v, Migrations, campaign.Migrations)
		}
	})
}
