package notice_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"hash/crc32"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/notice"
)

var update = flag.Bool("update", false, "rewrite golden files")

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
			if got := bytes.Count(pdf, []byte("/Type /Page\n")); got != 3 {
				t.Errorf("pages = %d, want 3 (single payment + 2 installments)", got)
			}
			if !bytes.Contains(pdf, []byte("/MediaBox [0 0 595.28 841.89]")) {
				t.Error("page is not A4")
			}
			text := pdfText(pdf)
			golden := filepath.Join("testdata", "notice."+lang+".golden.txt")
			if *update {
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

func TestRenderKeyFields(t *testing.T) {
	n := loadExample(t)
	text := pdfText(render(t, n))
	for _, want := range []string{
		"AVVISO DI PAGAMENTO", "Comune di Esempio", "01234567890", "A0EDT",
		"Mario Rossi", "RSSMRA80A01H501U", "Via Roma 1, 00100 Roma (RM)",
		"TARI 2026 - tassa sui rifiuti, abitazione di via Roma 1",
		"€ 240,50  entro il 30/06/2026", "120,25   entro il 31/10/2026",
		"3010 0000 0000 0001 44", "3010 0000 0000 0002 45", "3010 0000 0000 0003 46",
		"Rata unica", "Rata 1 di 2", "Rata 2 di 2", "Codice CBILL", "Codice Avviso",
		"Puoi pagare con una unica rata o in 2 rate",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	n.Lang = "en"
	text = pdfText(render(t, n))
	for _, want := range []string{"PAYMENT NOTICE", "€ 240.50  by 30/06/2026", "Installment 2 of 2", "Notice code"} {
		if !strings.Contains(text, want) {
			t.Errorf("English PDF text lacks %q", want)
		}
	}
	// Without CBILL the code is not printed.
	n.EC.CBILL = ""
	if text := pdfText(render(t, n)); strings.Contains(text, "CBILL code") {
		t.Error("CBILL label printed without a CBILL code")
	}
}

// pdfImage is an image XObject of an uncompressed PDF: its size, bit depth
// and raw (PNG IDAT) data.
type pdfImage struct {
	w, h, bpc int
	data      []byte
}

var imgRe = regexp.MustCompile(`/Subtype /Image\n/Width (\d+)\n/Height (\d+)\n(?s:.*?)/BitsPerComponent (\d+)\n(?s:.*?)/Length (\d+)>>\nstream\n`)

func imageStreams(pdf []byte) []pdfImage {
	var out []pdfImage
	num := func(m []int, i int) int { n, _ := strconv.Atoi(string(pdf[m[2*i]:m[2*i+1]])); return n }
	for _, m := range imgRe.FindAllSubmatchIndex(pdf, -1) {
		out = append(out, pdfImage{w: num(m, 1), h: num(m, 2), bpc: num(m, 3), data: pdf[m[1] : m[1]+num(m, 4)]})
	}
	return out
}

// toPNG rebuilds a paletted PNG from an image taken out of the PDF, with the
// palette of ref (every QR we print has the same two colours).
func toPNG(img pdfImage, ref []byte) []byte {
	var b bytes.Buffer
	b.Write(ref[:8])
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		b.Write(n[:])
		b.WriteString(typ)
		b.Write(data)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte(typ), data...)))
		b.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(img.w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(img.h))
	ihdr[8], ihdr[9] = byte(img.bpc), 3 // indexed colour
	chunk("IHDR", ihdr)
	for p := 8; p+8 <= len(ref); {
		n := int(binary.BigEndian.Uint32(ref[p:]))
		if string(ref[p+4:p+8]) == "PLTE" {
			chunk("PLTE", ref[p+8:p+8+n])
		}
		p += 12 + n
	}
	chunk("IDAT", img.data)
	chunk("IEND", nil)
	return b.Bytes()
}

func decodeQR(t *testing.T, pngBytes []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("png: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR decode: %v", err)
	}
	return res.GetText()
}

// TestQRCodeDecodesFromPDF takes each QR image out of the PDF, decodes it and
// compares the set of payloads with the options' payloads.
func TestQRCodeDecodesFromPDF(t *testing.T) {
	n := loadExample(t)
	imgs := imageStreams(render(t, n))
	if len(imgs) != len(n.Options) {
		t.Fatalf("%d images in the PDF, want %d", len(imgs), len(n.Options))
	}
	ref, err := notice.QRPNG("x")
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for i, img := range imgs {
		got = append(got, decodeQR(t, toPNG(img, ref)))
		want = append(want, n.QRPayload(i))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("QR codes in the PDF say\n%q\nwant\n%q", got, want)
	}
	if got, want := n.QRPayload(0), "PAGOPA|002|301000000000000144|01234567890|24050"; got != want {
		t.Errorf("payload %q, want %q", got, want)
	}
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
	if got := bytes.Count(buf.Bytes(), []byte("/Type /Page\n")); got != 4 {
		t.Errorf("batch pages = %d, want 4", got)
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

// TestRenderDeterministicText: fpdf writes image objects in map order, so
// the bytes may differ between runs; the text must not.
func TestRenderDeterministicText(t *testing.T) {
	n := loadExample(t)
	if a, b := pdfText(render(t, n)), pdfText(render(t, n)); a != b {
		t.Error("the same notice gave different text")
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
		{"long subject", func(n *notice.Notice) { n.Subject = strings.Repeat("x", 141) }, "subject"},
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
