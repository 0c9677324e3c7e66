package campaign

import (
	"context"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// TestStageAppliesFlatAmountAndDescription stages a CSV export with the
// definition's flat amount and description, and checks that rejected rows
// and valid ones add up to the rows read.
func TestStageAppliesFlatAmountAndDescription(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := fixtures.WriteDebtorsCSV(filepath.Join(dir, "debtors.csv"), 30, 3, 9); err != nil {
		t.Fatal(err)
	}
	tn := &tenant.Tenant{ID: "esempio", Dir: dir, Sources: map[string]tenant.Source{"csv": {Kind: "csv", Config: []byte(`{
		"path": "debtors.csv", "delimiter": ";", "header": true, "decimalComma": true, "dateFormat": "dd/mm/yyyy",
		"columns": {"externalId": "id_pratica", "fiscalCode": "codice_fiscale", "surname": "cognome", "name": "nome",
		"email": "email", "amount": "importo", "dueDate": "scadenza", "description": "descrizione"}}`)}}}
	st := testStore(t)
	a := &Activities{Store: st, Tenants: func(string) (*tenant.Tenant, error) { return tn, nil }}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(a.StageDebtors, Input{CampaignID: "canone", TenantID: "esempio", Source: "csv",
		AmountCents: 5000, Description: "Canone mensa 2026"})
	if err != nil {
		t.Fatal(err)
	}
	var res StageResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Valid != 30 || res.Rejected != 3 || res.Read != res.Valid+res.Rejected {
		t.Fatalf("stage result %+v, want 30 valid + 3 rejected", res)
	}
	items, err := st.AllItems(ctx, "canone")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.AmountCents != 5000 || it.Description != "Canone mensa 2026" {
			t.Fatalf("item %d: %d cents, %q", it.Seq, it.AmountCents, it.Description)
		}
	}
}
