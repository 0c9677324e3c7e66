package campaign

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/ponte-pa/ponte/connectors/legacy"
)

// TestReportCarriesRecordKey: a debtor of a source without ids is found in the
// report by its key (here its file and line), and a SQL reject by its key columns.
func TestReportCarriesRecordKey(t *testing.T) {
	items := []Item{{Seq: 0, Line: 2, Key: "csv:export.csv:2", FiscalCode: "RSSMRA85T10A562S", Name: "Mario", Surname: "Rossi", AmountCents: 1000, State: StateStaged}}
	rejects := []legacy.Reject{{Source: "sql:postgres", Line: 5, Key: "id=42", Field: "fiscalCode", Rule: "checksum", MessageIT: "x", MessageEN: "y"}}
	r := NewReport("tari", items, rejects, nil)
	if r.Debtors[0].Key != "csv:export.csv:2" || r.Rejected[0].Key != "id=42" {
		t.Fatalf("report %+v %+v", r.Debtors, r.Rejected)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0][2] != "record_key" || recs[1][2] != "csv:export.csv:2" || recs[1][1] != "" || recs[2][2] != "id=42" {
		t.Errorf("csv report:\n%q", recs)
	}
}
