package notice_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/datamatrix"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/notice"
)

func loadExample(t testing.TB) notice.Notice {
	t.Helper()
	b, err := os.ReadFile("testdata/notice.json")
	if err != nil {
		t.Fatal(err)
	}
	var n notice.Notice
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func render(t testing.TB, ns ...notice.Notice) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := notice.RenderWith(&buf, ns, notice.Options{Uncompressed: true}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var tjRe = regexp.MustCompile(`\(((?:\\.|[^\\)])*)\) ?Tj`)

// pdfText returns the strings shown by Tj operators, in page order, one per line.
func pdfText(pdf []byte) string {
	var lines []string
	for _, m := range tjRe.FindAllSubmatch(pdf, -1) {
		s := string(m[1])
		s = strings.NewReplacer(`\(`, "(", `\)`, ")", `\\`, `\`, `\r`, "\r").Replace(s)
		// cp1252 back to UTF-8 for the few non-ASCII characters we print.
		s = strings.NewReplacer("\x80", "€", "\x85", "…", "\xe0", "à", "\xe8", "è", "\xe9", "é").Replace(s)
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestRenderGolden(t *testing.T) {
	for _, lang := range []string{"it", "en"} {
		t.Run(lang, func(t *testing.T) {
			n := loadExample(t)
			n.Lang = lang
			pdf := render(t, n)
			if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) {
				t.Fatalf("not a PDF: %q", pdf[:16])
			}
			if got := bytes.Count(pdf, []byte("/Type /Page\n")); got != 1 {
				t.Errorf("pages = %d, want 1 (single payment and 2 installments in one band)", got)
			}
			if !bytes.Contains(pdf, []byte("/MediaBox [0 0 595.28 841.89]")) {
				t.Error("page is not A4")
			}
			text := pdfText(pdf)
			golden := filepath.Join("testdata", "notice."+lang+".golden.txt")
			if *notice.Update {
				if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if text != string(want) {
				t.Errorf("text differs from %s (go test -update to accept):\n%s", golden, text)
			}
		})
	}
}

// TestRenderKeyFields checks the guide's texts and their order: header,
// creditor, recipient, amount and due date, where to pay (the fixed texts of
// dove-pagare.md, the app channel first), then the payment data.
func TestRenderKeyFields(t *testing.T) {
	n := loadExample(t)
	text := pdfText(render(t, n))
	inOrder(t, "it", text, []string{
		"AVVISO DI PAGAMENTO", "TARI 2026 - tassa sui rifiuti, abitazione di via Roma 1",
		"ENTE CREDITORE", "Comune di Esempio", "Cod. Fiscale 01234567890",
		"DESTINATARIO", "Mario Rossi", "Via Roma 1, 00100 Roma (RM)", "Cod. Fiscale RSSMRA80A01H501U",
		"QUANTO E QUANDO PAGARE?", "240,50", "Euro", "entro il 30/06/2026", "Puoi pagare per intero o in 2 rate",
		"DOVE PAGARE?", "vai su pagopa.gov.it",
		"PAGA CON L'APP IO", "oppure dal tuo Home Banking, con la tua app di pagamento o con gli",
		"PAGA SUL TERRITORIO", "presso Banche e Sportelli ATM, negli Uffici Postali e Punti Postali, nei",
		"DATI PER IL PAGAMENTO", "Rata unica entro il 30/06/2026",
		"Cod. CBILL", "A0EDT", "Cod. Avviso", "3010 0000 0000 0001 44", "Cod. Fiscale Ente", "01234567890",
		"DATI PER IL PAGAMENTO", "Rata 1", "entro il 30/06/2026", "120,25", "3010 0000 0000 0002 45",
		"Rata 2", "entro il 31/10/2026", "3010 0000 0000 0003 46",
		"Inquadra il codice QR con la tua app di", // wrapped: "… pagamento o usa i dati sopra."
	})
	if strings.Contains(text, "BOLLETTINO POSTALE PA") {
		t.Error("a Bollettino Postale PA without a postal account")
	}
	n.Lang = "en"
	inOrder(t, "en", pdfText(render(t, n)), []string{"PAYMENT NOTICE", "PAYEE", "RECIPIENT", "HOW MUCH AND WHEN TO PAY?",
		"240.50", "Due Date 30/06/2026", "You can pay the full amount or split in 2 installments",
		"WHERE TO PAY?", "PAY WITH IO APP", "PAY LOCALLY", "PAYMENT DETAILS", "Full amount Due Date 30/06/2026",
		"CBILL Code", "Notice Code", "Payee Tax Code", "Installment #1", "Installment #2"})
	// Without CBILL neither the code nor its label is printed.
	n.EC.CBILL = ""
	if text := pdfText(render(t, n)); strings.Contains(text, "CBILL Code") {
		t.Error("CBILL label printed without a CBILL code")
	}
	// With a postal account, a Bollettino Postale PA follows the single
	// payment and each band of instalments.
	n = loadExample(t)
	n.EC.Postal = &notice.Postal{Account: "12345678", Authorization: "AUT. DB/SSIC/E 12345 DEL 01/01/2026"}
	inOrder(t, "postal", pdfText(render(t, n)), []string{
		"DATI PER IL PAGAMENTO", "Rata unica entro il 30/06/2026", "3010 0000 0000 0001 44",
		"BOLLETTINO POSTALE PA", "BancoPosta", "Rata unica entro il 30/06/2026", "AUT. DB/SSIC/E 12345 DEL", // wrapped

		"sul C/C n.", "12345678", "Intestato a", "COMUNE DI ESEMPIO", "Tipo", "P1",
		"DATI PER IL PAGAMENTO", "Rata 1", "Rata 2",
		"BOLLETTINO POSTALE PA", "Rata 1", "12345678", "Rata 2",
	})
}

// inOrder fails unless every string of want is in text, each after the one
// before.
func inOrder(t *testing.T, name, text string, want []string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := strings.Index(text[at:], w)
		if i < 0 {
			t.Errorf("%s: %q missing after position %d (or out of order)", name, w, at)
			continue
		}
		at += i + len(w)
	}
}

// TestPDFCodesDecode reads the QR code and the data matrix back from the
// PDF itself: it takes the black rectangles out of the content stream,
// groups them by module size (one group per code on this one-page notice),
// paints each group into a bitmap and decodes it with zxing. The PDF holds no
// image: the codes are vector.
func TestPDFCodesDecode(t *testing.T) {
	n := loadExample(t)
	n.Options = n.Options[:1]
	n.EC.Postal = &notice.Postal{Account: "12345678"}
	pdf := render(t, n)
	if bytes.Contains(pdf, []byte("/Subtype /Image")) {
		t.Error("the PDF embeds an image; the codes must be vector")
	}
	groups := map[string][][4]float64{} // by module height, in points
	black := false
	for _, line := range strings.Split(string(pdf), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[1] == "g":
			black = f[0] == "0.000"
		case len(f) == 4 && f[3] == "rg":
			black = f[0] == "0.000" && f[1] == "0.000" && f[2] == "0.000"
		case len(f) == 6 && f[4] == "re" && f[5] == "f" && black:
			var r [4]float64
			for i := range r {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				r[i] = v
			}
			groups[f[3]] = append(groups[f[3]], r)
		}
	}
	var got []string
	for h, rs := range groups {
		if len(rs) < 50 { // not a code: rules, bars
			continue
		}
		got = append(got, decodeRects(t, h, rs))
	}
	slices.Sort(got)
	want := []string{n.PosteDataMatrix(0), "PAGOPA|002|301000000000000144|01234567890|24050"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("codes in the PDF say\n%q\nwant\n%q", got, want)
	}
}

// decodeRects paints rectangles (PDF points: x, y, w, h with h < 0) into a
// bitmap at 8 pixels a point and decodes it as a QR code or a data matrix.
func decodeRects(t *testing.T, h string, rs [][4]float64) string {
	t.Helper()
	const s, m = 8.0, 20.0 // pixels a point; white margin in points
	x0, y0, x1, y1 := rs[0][0], rs[0][1], rs[0][0], rs[0][1]
	for _, r := range rs {
		x0, x1 = min(x0, r[0]), max(x1, r[0]+r[2])
		y0, y1 = min(y0, r[1]+r[3]), max(y1, r[1])
	}
	// 25 mm = 70.87 pt a side (the guide's size for both codes); both have
	// dark modules on every edge (finder patterns), so the box is the symbol.
	if d := 25 / 25.4 * 72; math.Abs(x1-x0-d) > 0.05 || math.Abs(y1-y0-d) > 0.05 {
		t.Errorf("code of height-%s modules is %.2f × %.2f pt, want %.2f (25 mm)", h, x1-x0, y1-y0, d)
	}
	t.Logf("code of %d rectangles: %.2f × %.2f pt", len(rs), x1-x0, y1-y0)
	w, hh := int((x1-x0+2*m)*s), int((y1-y0+2*m)*s)
	img := image.NewGray(image.Rect(0, 0, w, hh))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for _, r := range rs {
		// PDF y grows upwards; the image's downwards.
		for py := int((y1 - r[1] + m) * s); py < int((y1-r[1]-r[3]+m)*s); py++ {
			for px := int((r[0] - x0 + m) * s); px < int((r[0]+r[2]-x0+m)*s); px++ {
				img.SetGray(px, py, color.Gray{})
			}
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, qerr := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if qerr == nil {
		return res.GetText()
	}
	res, err = datamatrix.NewDataMatrixReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("%d rectangles of height %s pt decode neither as a QR code (%v) nor as a data matrix (%v)", len(rs), h, qerr, err)
	}
	return res.GetText()
}

func TestRenderBatchAndZip(t *testing.T) {
	a := loadExample(t)
	b := loadExample(t)
	b.Debtor = notice.Debtor{Name: "Anna Bianchi", FiscalCode: "BNCNNA85M41F205X"}
	b.Options = []notice.Option{{NAV: "301000000000000447", AmountCents: 5000, DueDate: notice.NewDate(2026, 12, 31)}}
	if _, err := pagopa.ParseNAV(b.Options[0].NAV); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := notice.RenderWith(&buf, []notice.Notice{a, b}, notice.Options{Uncompressed: true}); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(buf.Bytes(), []byte("/Type /Page\n")); got != 2 {
		t.Errorf("batch pages = %d, want 2 (a page per notice)", got)
	}
	text := pdfText(buf.Bytes())
	if !strings.Contains(text, "Anna Bianchi") || !strings.Contains(text, "Mario Rossi") {
		t.Error("batch lacks a debtor")
	}
	buf.Reset()
	if err := notice.RenderZip(&buf, []notice.Notice{a, b}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 5)
		if _, err := rc.Read(head); err != nil || string(head) != "%PDF-" {
			t.Errorf("%s is not a PDF: %q %v", f.Name, head, err)
		}
		rc.Close()
	}
	if got := strings.Join(names, ","); got != "301000000000000144.pdf,301000000000000447.pdf" {
		t.Errorf("zip entries %s", got)
	}
	// Same notice twice: two files with one name is refused.
	if err := notice.RenderZip(&bytes.Buffer{}, []notice.Notice{a, a}); err == nil {
		t.Error("duplicate zip names accepted")
	}
}

// TestRenderDeterministic: with no image in the PDF (fpdf wrote those in
// map order), the same notice gives the same bytes, compressed or not.
func TestRenderDeterministic(t *testing.T) {
	n := loadExample(t)
	n.EC.Postal = &notice.Postal{Account: "12345678"}
	if a, b := render(t, n), render(t, n); !bytes.Equal(a, b) {
		t.Error("the same notice gave different PDFs")
	}
	var a, b bytes.Buffer
	if err := notice.Render(&a, n); err != nil {
		t.Fatal(err)
	}
	if err := notice.Render(&b, n); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same notice gave different compressed PDFs")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*notice.Notice)
		field string
	}{
		{"ok", func(*notice.Notice) {}, ""},
		{"no EC name", func(n *notice.Notice) { n.EC.Name = " " }, "ec.name"},
		{"EC fiscal code short", func(n *notice.Notice) { n.EC.FiscalCode = "123" }, "ec.fiscalCode"},
		{"EC fiscal code letters", func(n *notice.Notice) { n.EC.FiscalCode = "0123456789A" }, "ec.fiscalCode"},
		{"bad CBILL", func(n *notice.Notice) { n.EC.CBILL = "A B" }, "ec.cbill"},
		{"no debtor", func(n *notice.Notice) { n.Debtor.Name = "" }, "debtor.name"},
		{"no debtor code", func(n *notice.Notice) { n.Debtor.FiscalCode = "" }, "debtor.fiscalCode"},
		{"no subject", func(n *notice.Notice) { n.Subject = "" }, "subject"},
		{"long subject", func(n *notice.Notice) { n.Subject = strings.Repeat("x", notice.MaxSubject+1) }, "subject"},
		{"long EC name", func(n *notice.Notice) { n.EC.Name = strings.Repeat("x", notice.MaxECName+1) }, "ec.name"},
		{"long sector", func(n *notice.Notice) { n.EC.Sector = strings.Repeat("x", notice.MaxSector+1) }, "ec.sector"},
		{"long info", func(n *notice.Notice) { n.EC.Info = strings.Repeat("x", notice.MaxInfo+1) }, "ec.info"},
		{"long debtor name", func(n *notice.Notice) { n.Debtor.Name = strings.Repeat("è", notice.MaxDebtorName+1) }, "debtor.name"},
		{"long address", func(n *notice.Notice) { n.Debtor.Address = strings.Repeat("x", notice.MaxAddress+1) }, "debtor.address"},
		{"CBILL lower case", func(n *notice.Notice) { n.EC.CBILL = "a0edt" }, "ec.cbill"},
		{"CBILL 6 characters", func(n *notice.Notice) { n.EC.CBILL = "A0EDT1" }, "ec.cbill"},
		{"postal account letters", func(n *notice.Notice) { n.EC.Postal = &notice.Postal{Account: "12345A"} }, "ec.postal.account"},
		{"postal account 13 digits", func(n *notice.Notice) { n.EC.Postal = &notice.Postal{Account: "1234567890123"} }, "ec.postal.account"},
		{"postal owner long", func(n *notice.Notice) {
			n.EC.Postal = &notice.Postal{Account: "123", Owner: strings.Repeat("x", notice.MaxPostalOwner+1)}
		}, "ec.postal.owner"},
		{"postal ok", func(n *notice.Notice) { n.EC.Postal = &notice.Postal{Account: "123456789012"} }, ""},
		{"installment twice", func(n *notice.Notice) { n.Options[2].Installment = 1 }, "options[2].installment"},
		{"bad lang", func(n *notice.Notice) { n.Lang = "de" }, "lang"},
		{"no options", func(n *notice.Notice) { n.Options = nil }, "options"},
		{"bad check digits", func(n *notice.Notice) { n.Options[0].NAV = "301000000000000145" }, "options[0].nav"},
		{"duplicate NAV", func(n *notice.Notice) { n.Options[1].NAV = n.Options[0].NAV }, "options[1].nav"},
		{"zero amount", func(n *notice.Notice) { n.Options[0].AmountCents = 0 }, "options[0].amountCents"},
		{"huge amount", func(n *notice.Notice) { n.Options[0].AmountCents = 100_000_000_000 }, "options[0].amountCents"},
		{"no due date", func(n *notice.Notice) { n.Options[2].DueDate = notice.Date{} }, "options[2].dueDate"},
		{"installment > of", func(n *notice.Notice) { n.Options[2].Installment = 3 }, "options[2]"},
		{"two singles", func(n *notice.Notice) { n.Options[1].Installment, n.Options[1].Of = 0, 0 }, "options[1]"},
		{"mixed of", func(n *notice.Notice) { n.Options[2].Of, n.Options[2].Installment = 3, 3 }, "options[2].of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := loadExample(t)
			c.edit(&n)
			err := n.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *notice.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if ve.Field != c.field {
				t.Errorf("field %q, want %q (%v)", ve.Field, c.field, err)
			}
			if err := notice.Render(&bytes.Buffer{}, n); !errors.As(err, &ve) {
				t.Errorf("Render accepted an invalid notice: %v", err)
			}
		})
	}
	var ne *pagopa.NAVError
	n := loadExample(t)
	n.Options[0].NAV = "30100000000000014x"
	if err := n.Validate(); !errors.As(err, &ne) || ne.Rule != pagopa.RuleDigit {
		t.Errorf("want a wrapped NAVError digit, got %v", err)
	}
}

func TestFormatAmount(t *testing.T) {
	cases := []struct {
		cents  int64
		it, en string
	}{
		{1, "0,01", "0.01"}, {100, "1,00", "1.00"}, {24050, "240,50", "240.50"},
		{123456789, "1.234.567,89", "1,234,567.89"}, {99_999_999_999, "999.999.999,99", "999,999,999.99"},
	}
	for _, c := range cases {
		if got := notice.FormatAmount(c.cents, "it"); got != c.it {
			t.Errorf("it %d = %q, want %q", c.cents, got, c.it)
		}
		if got := notice.FormatAmount(c.cents, "en"); got != c.en {
			t.Errorf("en %d = %q, want %q", c.cents, got, c.en)
		}
	}
}

func TestDateJSON(t *testing.T) {
	var o notice.Option
	if err := json.Unmarshal([]byte(`{"dueDate":"2026-06-30"}`), &o); err != nil || o.DueDate.Format("2006-01-02") != "2026-06-30" {
		t.Errorf("date: %v %v", o.DueDate, err)
	}
	if err := json.Unmarshal([]byte(`{"dueDate":"30/06/2026"}`), &o); err == nil {
		t.Error("accepted a dd/mm/yyyy date")
	}
	b, err := json.Marshal(notice.Option{DueDate: notice.NewDate(2026, 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"dueDate":"2026-01-02"`) {
		t.Errorf("marshal: %s", b)
	}
}

func BenchmarkRender(b *testing.B) {
	n := loadExample(b)
	n.Options = n.Options[:1]
	b.ReportAllocs()
	for b.Loop() {
		if err := notice.Render(ioDiscard{}, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notices/s")
}

func BenchmarkRenderBatch100(b *testing.B) {
	n := loadExample(b)
	n.Options = n.Options[:1]
	ns := make([]notice.Notice, 100)
	for i := range ns {
		ns[i] = n
		iuv, err := pagopa.NewIUV("01", strconv.FormatInt(1_000_000_000_000+int64(i), 10))
		if err != nil {
			b.Fatal(err)
		}
		ns[i].Options = []notice.Option{{NAV: "3" + iuv, AmountCents: int64(1000 + i), DueDate: notice.NewDate(2026, 12, 31)}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := notice.RenderBatch(ioDiscard{}, ns); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(ns))/b.Elapsed().Seconds(), "notices/s")
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }
