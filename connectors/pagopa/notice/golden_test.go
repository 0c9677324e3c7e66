package notice

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxdm "github.com/makiuchi-d/gozxing/datamatrix"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

var (
	update = flag.Bool("update", false, "rewrite golden files")
	pngDir = flag.String("pngdir", "", "also write the rendered pages as PNG files into this directory")
)

// goldenDPI keeps the golden PNGs small (827×1170 pixels an A4 page) and still
// readable; the codes are decoded from a separate 600 dpi rendering.
const goldenDPI = 100

func base() Notice {
	return Notice{
		EC: EC{Name: "Comune di Esempio", FiscalCode: "01234567890", CBILL: "A0EDT",
			Sector: "Settore Entrate - Ufficio Tributi", Info: "www.comune.esempio.it · tributi@comune.esempio.it · 0123 456789"},
		Debtor:  Debtor{Name: "Mario Rossi", FiscalCode: "RSSMRA80A01H501U", Address: "Via Roma 1, 00100 Roma (RM)"},
		Subject: "TARI 2026 - tassa sui rifiuti, abitazione di via Roma 1",
		Lang:    LangIT,
		Options: []Option{{NAV: "301000000000000144", AmountCents: 30000, DueDate: NewDate(2026, 6, 30)}},
	}
}

var postal = &Postal{Account: "12345678", Owner: "Comune di Esempio - Servizio Tesoreria", Authorization: "AUT. DB/SSIC/E 12345 DEL 01/01/2026"}

func withRates(n Notice) Notice {
	n.Options = append(n.Options,
		Option{NAV: "301000000000000245", AmountCents: 10000, DueDate: NewDate(2026, 6, 30), Installment: 1, Of: 3},
		Option{NAV: "301000000000000346", AmountCents: 10000, DueDate: NewDate(2026, 9, 30), Installment: 2, Of: 3},
		Option{NAV: "301000000000000447", AmountCents: 10000, DueDate: NewDate(2026, 12, 31), Installment: 3, Of: 3})
	return n
}

func withPostal(n Notice) Notice { n.EC.Postal = postal; return n }

func english(n Notice) Notice { n.Lang = LangEN; return n }

// goldenLayouts are the layouts with a golden rendering: the four of the
// guide this package draws (single payment and three instalments, each with
// and without a postal account) and one in English.
var goldenLayouts = []struct {
	name  string
	n     Notice
	pages int
}{
	{"single", base(), 1},
	{"single-postal", withPostal(base()), 1},
	{"rate3", withRates(base()), 1},
	{"rate3-postal", withPostal(withRates(base())), 2},
	{"rate3-postal-en", english(withPostal(withRates(base()))), 2},
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGoldenPNG renders each layout to PNG and compares it pixel by pixel
// with testdata/golden (go test -update rewrites them; look at the images
// before committing them).
func TestGoldenPNG(t *testing.T) {
	for _, c := range goldenLayouts {
		t.Run(c.name, func(t *testing.T) {
			pages, err := Rasterize([]Notice{c.n}, goldenDPI)
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != c.pages {
				t.Errorf("%d pages, want %d", len(pages), c.pages)
			}
			if p, err := Pages([]Notice{c.n}); err != nil || p != c.pages {
				t.Errorf("Pages = %d, %v; want %d", p, err, c.pages)
			}
			for p, img := range pages {
				name := fmt.Sprintf("%s-p%d.png", c.name, p+1)
				golden := filepath.Join("testdata", "golden", name)
				got := encodePNG(t, img)
				if *pngDir != "" {
					if err := os.WriteFile(filepath.Join(*pngDir, name), got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				f, err := os.Open(golden)
				if err != nil {
					t.Fatalf("%v (go test -update writes it)", err)
				}
				want, err := png.Decode(f)
				f.Close()
				if err != nil {
					t.Fatalf("%s: %v", golden, err)
				}
				if n, box := diff(img, want); n > 0 {
					t.Errorf("%s: %d pixels differ, within %v (go test -update -pngdir DIR to look and accept)", golden, n, box)
				}
			}
		})
	}
}

// diff counts the pixels that differ and the rectangle that holds them.
func diff(a, b image.Image) (int, image.Rectangle) {
	if a.Bounds() != b.Bounds() {
		return a.Bounds().Dx() * a.Bounds().Dy(), a.Bounds().Union(b.Bounds())
	}
	n := 0
	var box image.Rectangle
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				n++
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return n, box
}

// decodeCodes renders every 2D code of d at 600 dpi, without text, and
// decodes it with zxing's readers (an implementation independent of the
// encoder), returning "qr:<text>" and "datamatrix:<text>" in page order.
func decodeCodes(t *testing.T, d *doc) []string {
	t.Helper()
	const dpi = 600
	var out []string
	for _, c := range d.codes {
		m := 4.0 // mm around the symbol: its quiet zone and some white
		r := image.Rect(px(c.x-m, dpi), px(c.y-m, dpi), px(c.x+c.w+m, dpi), px(c.y+c.w+m, dpi))
		img, err := d.raster(c.page, dpi, r, false)
		if err != nil {
			t.Fatal(err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		hints := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
		var res *gozxing.Result
		switch c.kind {
		case "qr":
			res, err = zxqr.NewQRCodeReader().Decode(bmp, hints)
		case "datamatrix":
			res, err = zxdm.NewDataMatrixReader().Decode(bmp, hints)
		}
		if err != nil {
			t.Fatalf("%s on page %d at (%.1f, %.1f): %v", c.kind, c.page+1, c.x, c.y, err)
		}
		// The symbol is 25 mm wide, as the guide asks, and the QR code of
		// version 4 (33×33 modules, codice-qr page of the guide).
		if c.w != 25 {
			t.Errorf("%s is %.1f mm wide, want 25", c.kind, c.w)
		}
		if c.kind == "qr" && c.modules != 33 {
			t.Errorf("QR code of %d×%d modules, want 33×33 (version 4)", c.modules, c.modules)
		}
		out = append(out, c.kind+":"+res.GetText())
	}
	return out
}

// dm is the Poste data matrix content of the fixtures, written out field by
// field from the generator's rule (see PosteDataMatrix).
func dm(nav string, cents string) string {
	return "codfase=NBPA;" + "18" + nav + "12" + "000012345678" + "10" + cents + "3896" + "1P1" +
		"01234567890" + "RSSMRA80A01H501U" + "Mario Rossi" + strings.Repeat(" ", 29) +
		"TARI 2026 - tassa sui rifiuti, abitazione di via Roma 1" + strings.Repeat(" ", 55) +
		strings.Repeat(" ", 12) + "A"
}

// TestCodesDecode decodes every QR code and data matrix back and compares
// them with the payloads of the guide (QR: PAGOPA|002|NAV|EC|cents) and of
// the generator (data matrix).
func TestCodesDecode(t *testing.T) {
	qr := func(nav string, cents int) string {
		return fmt.Sprintf("qr:PAGOPA|002|%s|01234567890|%d", nav, cents)
	}
	single := qr("301000000000000144", 30000)
	rates := []string{qr("301000000000000245", 10000), qr("301000000000000346", 10000), qr("301000000000000447", 10000)}
	dmSingle := "datamatrix:" + dm("301000000000000144", "0000030000")
	dmRates := []string{"datamatrix:" + dm("301000000000000245", "0000010000"),
		"datamatrix:" + dm("301000000000000346", "0000010000"), "datamatrix:" + dm("301000000000000447", "0000010000")}
	want := map[string][]string{
		"single":          {single},
		"single-postal":   {single, dmSingle},
		"rate3":           append([]string{single}, rates...),
		"rate3-postal":    slices.Concat([]string{single, dmSingle}, rates, dmRates),
		"rate3-postal-en": slices.Concat([]string{single, dmSingle}, rates, dmRates),
	}
	for _, c := range goldenLayouts {
		t.Run(c.name, func(t *testing.T) {
			d, err := layout([]Notice{c.n})
			if err != nil {
				t.Fatal(err)
			}
			got := decodeCodes(t, d)
			if !slices.Equal(got, want[c.name]) {
				t.Errorf("decoded\n%q\nwant\n%q", got, want[c.name])
			}
		})
	}
	if n := withPostal(base()); len(n.PosteDataMatrix(0)) != 13+50+3+11+16+40+110+12+1 {
		t.Errorf("data matrix content is %d characters, want 256", len(n.PosteDataMatrix(0)))
	}
}

// TestDataMatrixFixedWidths: a long name is cut and accents folded so the
// positions of the fields do not move; the QR payload keeps the NAV.
func TestDataMatrixFixedWidths(t *testing.T) {
	n := withPostal(base())
	n.Debtor.Name = "Niccolò Dell'Acqua Bianchi Sforza Visconti di Modrone Grande"
	got := n.PosteDataMatrix(0)
	name := got[13+50+3+11+16 : 13+50+3+11+16+40]
	if name != "Niccolo Dell'Acqua Bianchi Sforza Viscon" {
		t.Errorf("name field %q", name)
	}
	if !strings.HasSuffix(got, strings.Repeat(" ", 12)+"A") || len(got) != 256 {
		t.Errorf("content %q (%d)", got, len(got))
	}
	if base().PosteDataMatrix(0) != "" {
		t.Error("a data matrix without a postal account")
	}
}

// TestLongTextsStayInTheirBoxes: texts at the guide's limits, made of the
// widest letters, stay within the page's margins, and no line of text runs
// into another, in these and in the golden layouts.
func TestLongTextsStayInTheirBoxes(t *testing.T) {
	n := withPostal(withRates(base()))
	n.EC.Name = strings.Repeat("W", MaxECName)
	n.EC.Sector = strings.Repeat("W", MaxSector)
	n.EC.Info = strings.Repeat("W", MaxInfo)
	n.Debtor.Name = strings.Repeat("W", MaxDebtorName)
	n.Debtor.Address = strings.Repeat("W", MaxAddress) // one word: broken across lines
	n.Subject = strings.Repeat("Wm ", MaxSubject/3)
	n.EC.Postal = &Postal{Account: "123456789012", Owner: strings.Repeat("W", MaxPostalOwner), Authorization: strings.Repeat("W", 60)}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := layout([]Notice{n})
	if err != nil {
		t.Fatal(err)
	}
	for p, ops := range d.pages {
		for _, o := range ops {
			if o.kind != opText {
				continue
			}
			if end := o.x + d.width(o.font, o.size, o.text); o.x < left-0.01 || end > right+0.01 || o.y > bottom {
				t.Errorf("page %d: %q from %.1f to %.1f mm at y %.1f leaves the page's margins", p+1, o.text, o.x, end, o.y)
			}
		}
	}
	for _, c := range append(goldenLayouts, struct {
		name  string
		n     Notice
		pages int
	}{"long texts", n, 0}) {
		d, err := layout([]Notice{c.n})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range overlaps(d) {
			t.Errorf("%s: %s", c.name, o)
		}
	}
}

// overlaps lists the pairs of lines of text whose boxes (from the baseline,
// ascent 0.75 and descent 0.2 of the size) cross each other.
func overlaps(d *doc) []string {
	type box struct {
		x0, x1, y0, y1 float64
		s              string
	}
	var out []string
	for p, ops := range d.pages {
		var bs []box
		for _, o := range ops {
			if o.kind == opText {
				h := o.size * ptMM
				bs = append(bs, box{o.x, o.x + d.width(o.font, o.size, o.text), o.y - 0.75*h, o.y + 0.2*h, o.text})
			}
		}
		for i, a := range bs {
			for _, b := range bs[i+1:] {
				if a.x0 < b.x1-0.01 && b.x0 < a.x1-0.01 && a.y0 < b.y1-0.01 && b.y0 < a.y1-0.01 {
					out = append(out, fmt.Sprintf("page %d: %q and %q overlap", p+1, a.s, b.s))
				}
			}
		}
	}
	return out
}

// FuzzNotice feeds outside text (as a notice JSON file or a campaign CSV
// brings it) into every free-text field: Validate refuses it naming a field,
// or the notice is laid out without a panic, every line of text within the
// page's margins and clear of the others, and its codes encode.
func FuzzNotice(f *testing.F) {
	f.Add("Comune di Esempio", "Mario Rossi", "TARI 2026", "Via Roma 1", "A0EDT", "AUT. DB/SSIC/E 12345 DEL 01/01/2026")
	f.Add(strings.Repeat("W", 50), strings.Repeat("Ñ", 70), strings.Repeat("€ ", 45), "", "", "")
	f.Add("", "\x00\n\t", "…’", "x", "a0edt", strings.Repeat("é", 61))
	f.Fuzz(func(t *testing.T, ec, name, subject, address, cbill, auth string) {
		n := withPostal(withRates(base()))
		n.EC.Name, n.Debtor.Name, n.Subject, n.Debtor.Address, n.EC.CBILL = ec, name, subject, address, cbill
		n.EC.Postal = &Postal{Account: "123", Authorization: auth}
		if err := n.Validate(); err != nil {
			if !strings.Contains(err.Error(), "notice: ") {
				t.Fatalf("error without the field: %v", err)
			}
			return
		}
		d, err := layout([]Notice{n})
		if err != nil {
			t.Fatal(err)
		}
		for p, ops := range d.pages {
			for _, o := range ops {
				if o.kind == opText {
					if end := o.x + d.width(o.font, o.size, o.text); o.x < left-0.01 || end > right+0.01 || o.y > bottom {
						t.Fatalf("page %d: %q from %.1f to %.1f mm", p+1, o.text, o.x, end)
					}
				}
			}
		}
		if o := overlaps(d); len(o) > 0 {
			t.Fatal(o)
		}
		if len(d.codes) != 8 {
			t.Fatalf("%d codes, want 8", len(d.codes))
		}
	})
}

func TestGroupSize(t *testing.T) {
	// rate-multiple.md: bands of 2 or 3; a count divisible by neither
	// repeats the 3-layout.
	for n, want := range map[int]int{2: 2, 3: 3, 4: 2, 5: 3, 6: 3, 7: 3, 8: 2, 9: 3, 10: 2, 12: 3} {
		if got := groupSize(n); got != want {
			t.Errorf("groupSize(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestBandsKeepTheirBollettino: with a postal account, each band of
// instalments is on the same page as its Bollettino Postale PA, and every
// option's QR code and data matrix name the same notice.
func TestBandsKeepTheirBollettino(t *testing.T) {
	n := withPostal(base())
	for i := 1; i <= 7; i++ {
		iuv := fmt.Sprintf("01%013d", i+1)
		check := fmt.Sprintf("%02d", (3010000000000000+int64(i+1))%93)
		n.Options = append(n.Options, Option{NAV: "3" + iuv + check, AmountCents: 1000, DueDate: NewDate(2026, 6, 30), Installment: i, Of: 7})
	}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := layout([]Notice{n})
	if err != nil {
		t.Fatal(err)
	}
	qrs, dms := map[int][]string{}, map[int][]string{}
	for _, c := range d.codes {
		if c.kind == "qr" {
			qrs[c.page] = append(qrs[c.page], strings.Split(c.content, "|")[2])
		} else {
			dms[c.page] = append(dms[c.page], c.content[15:33])
		}
	}
	if len(d.pages) != 4 { // single + its bollettino, then 3 bands of 3, 3 and 1 with theirs
		t.Errorf("%d pages, want 4", len(d.pages))
	}
	for p := range d.pages {
		if !slices.Equal(qrs[p], dms[p]) || len(qrs[p]) == 0 {
			t.Errorf("page %d: QR codes for %v, data matrices for %v", p+1, qrs[p], dms[p])
		}
	}
}

// TestQRVersion4: the shortest and the longest payloads both make a QR code
// of version 4, as the guide asks.
func TestQRVersion4(t *testing.T) {
	for _, cents := range []int64{1, MaxAmountCents} {
		n := base()
		n.Options[0].AmountCents = cents
		d, err := layout([]Notice{n})
		if err != nil {
			t.Fatal(err)
		}
		if m := d.codes[0].modules; m != 33 {
			t.Errorf("%d cents: QR code of %d×%d modules, want 33×33", cents, m, m)
		}
	}
}
