package campaign

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/tenant"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
)

// TestFallbackEmailCarriesNoticePDF sends the fallback email through the SMTP
// mock (STARTTLS, AUTH) and checks the attached payment notice, then renders
// the print batch of the debtor without an address.
func TestFallbackEmailCarriesNoticePDF(t *testing.T) {
	ctx := context.Background()
	smtp, err := smtpmock.Start("127.0.0.1:0", smtpmock.Options{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer smtp.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, smtp.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PONTE_TEST_SMTP_PW", "p")
	email, err := json.Marshal(map[string]string{"kind": "email", "addr": smtp.Addr(), "from": "tributi@comune.example",
		"username": "u", "password": "env:PONTE_TEST_SMTP_PW", "caFile": ca})
	if err != nil {
		t.Fatal(err)
	}
	tn := &tenant.Tenant{ID: "esempio", FiscalCode: "01234567890", Name: tenant.Localized{IT: "Comune di Esempio"},
		Channels: []tenant.Channel{{Kind: "email", Config: email}}}
	st := testStore(t)
	debtors := []legacy.Debtor{
		{Line: 2, FiscalCode: "RSSMRA80A01H501U", Name: "Mario", Surname: "Rossi", Email: "mario@example.org", AmountCents: 12345, DueDate: "2026-12-31"},
		{Line: 3, FiscalCode: "VRDLGU70B02F205X", Name: "Luigi", Surname: "Verdi", AmountCents: 5000, DueDate: "2026-12-31"},
	}
	navs := []string{"301000000000000144", "301000000000000245"}
	for i, d := range debtors {
		if err := st.AddItem(ctx, "c1", i, d); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPosition(ctx, "c1", i, StatePublished, IUPD("esempio", "c1", i), navs[i][1:], navs[i], ""); err != nil {
			t.Fatal(err)
		}
		if err := st.SetIO(ctx, "c1", i, IONotOnIO, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	a := &Activities{Store: st, Tenants: func(string) (*tenant.Tenant, error) { return tn, nil }}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(a.SendFallback, BatchInput{TenantID: "esempio", CampaignID: "c1", From: 0, To: 2, Subject: "TARI 2026"})
	if err != nil {
		t.Fatal(err)
	}
	var res BatchResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Sent != 1 || res.Failed != 1 {
		t.Fatalf("result %+v, want 1 sent (Rossi) and 1 to print (Verdi, no address)", res)
	}
	msgs := smtp.Messages()
	if len(msgs) != 1 || msgs[0].To != "mario@example.org" || !msgs[0].TLS {
		t.Fatalf("SMTP mock holds %+v", msgs)
	}
	if len(msgs[0].Attachments) != 1 {
		t.Fatalf("attachments: %d, want the payment notice PDF", len(msgs[0].Attachments))
	}
	att := msgs[0].Attachments[0]
	if att.ContentType != "application/pdf" || att.Name != "avviso-pagopa-"+navs[0]+".pdf" || !bytes.HasPrefix(att.Data, []byte("%PDF-")) {
		t.Errorf("attachment %s (%s), %d bytes starting %q", att.Name, att.ContentType, len(att.Data), att.Data[:min(8, len(att.Data))])
	}

	var pdf bytes.Buffer
	n, err := WritePrintBatch(ctx, st, tn, "c1", "TARI 2026", "", &pdf)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) {
		t.Errorf("print batch: %d notices, %d bytes; want 1 notice (Verdi)", n, pdf.Len())
	}
}
