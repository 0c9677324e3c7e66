package notice

import (
	"fmt"
	"sort"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/datamatrix"
	"github.com/boombuler/barcode/qr"
	"github.com/go-pdf/fpdf"
	"golang.org/x/text/unicode/norm"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// The layout is computed once into a list of drawing operations per page
// (filled rectangles and single lines of text placed in millimetres) and then
// replayed by the PDF writer (render.go) and by the rasteriser (raster.go).
// Both draw exactly the same thing, which is what lets the golden PNG tests
// stand for the PDF: the codes are rectangles in both, and text is placed
// with the PDF fonts' metrics.

type fontID uint8

const (
	fRegular fontID = iota // Helvetica
	fBold                  // Helvetica-Bold
	fMono                  // Courier-Bold, for codes and amounts
)

type opKind uint8

const (
	opRect opKind = iota
	opText
)

type rgb [3]uint8

var (
	black    = rgb{0, 0, 0}
	white    = rgb{255, 255, 255}
	grey70   = rgb{77, 77, 77} // the authorisation is printed at 70% density (bollettino-postale-pa.md, <autorizzazione>)
	bandGrey = rgb{235, 238, 242}
	rule     = rgb{170, 170, 170}
	blue     = rgb{0, 115, 230} // pagoPA blue
)

// op is one drawing operation. Rect: x, y, w, h. Text: x, y is the
// baseline's left end, size in points.
type op struct {
	kind       opKind
	x, y, w, h float64
	color      rgb
	font       fontID
	size       float64
	text       string
}

// code is a 2D code placed on a page, kept for tests.
type code struct {
	kind    string // "qr" or "datamatrix"
	content string
	page    int
	x, y, w float64 // mm, the symbol without its quiet zone
	modules int     // modules a side
}

// doc is a laid-out notice (or batch).
type doc struct {
	pages [][]op
	codes []code
	m     *fpdf.Fpdf // measures text with the PDF's own font metrics
	tr    func(string) string
	font  fontID  // m's current font…
	size  float64 // …and size (0: none yet)
}

const (
	pageW, pageH = 210.0, 297.0
	left, right  = 10.0, 200.0
	bottom       = 287.0
	ptMM         = 25.4 / 72
	// codeMM is the side of the QR code and of the data matrix: 25×25 mm
	// (rata-unica.md AVVISO.QRCODE, rate-multiple.md AVVISO.RATE.n.QRCODE,
	// bollettino-postale-pa.md <data_matrix>), vector and monochrome.
	codeMM = 25.0
)

func newDoc() *doc {
	m := fpdf.New("P", "mm", "A4", "")
	return &doc{m: m, tr: m.UnicodeTranslatorFromDescriptor("")}
}

func (d *doc) addPage() { d.pages = append(d.pages, nil) }

func (d *doc) add(o op) { d.pages[len(d.pages)-1] = append(d.pages[len(d.pages)-1], o) }

func (d *doc) rect(x, y, w, h float64, c rgb) {
	d.add(op{kind: opRect, x: x, y: y, w: w, h: h, color: c})
}

func fontName(f fontID) (string, string) {
	switch f {
	case fBold:
		return "Helvetica", "B"
	case fMono:
		return "Courier", "B"
	}
	return "Helvetica", ""
}

func (d *doc) width(f fontID, size float64, s string) float64 {
	if d.font != f || d.size != size {
		fam, style := fontName(f)
		d.m.SetFont(fam, style, size)
		d.font, d.size = f, size
	}
	return d.m.GetStringWidth(d.tr(s))
}

// text draws s with its baseline at y, starting at x.
func (d *doc) text(x, y float64, f fontID, size float64, c rgb, s string) float64 {
	if s == "" {
		return 0
	}
	d.add(op{kind: opText, x: x, y: y, font: f, size: size, color: c, text: s})
	return d.width(f, size, s)
}

// textRight draws s ending at x.
func (d *doc) textRight(x, y float64, f fontID, size float64, c rgb, s string) {
	d.text(x-d.width(f, size, s), y, f, size, c, s)
}

// fit draws s in a box w wide with at most lines lines, the first baseline at
// y. A text that does not fit is set smaller, down to 6 pt, and then cut with
// "…": the layout never overflows a box, whatever the text. It returns the
// y of the last baseline.
func (d *doc) fit(x, y, w float64, f fontID, size float64, lines int, c rgb, s string) float64 {
	s = strings.Join(strings.Fields(s), " ")
	for sz := size; ; sz -= 0.5 {
		ls, ok := d.wrap(f, sz, w, s, lines)
		if ok || sz <= 6 {
			lh := sz * ptMM * 1.2
			for i, l := range ls {
				d.text(x, y+float64(i)*lh, f, sz, c, l)
			}
			return y + float64(max(len(ls)-1, 0))*lh
		}
	}
}

// wrap breaks s into lines no wider than w; ok is false when more than max
// lines were needed, and then the lines returned are cut to max with "…".
func (d *doc) wrap(f fontID, size, w float64, s string, maxLines int) ([]string, bool) {
	var ls []string
	cur := ""
	for _, word := range strings.Fields(s) {
		for d.width(f, size, word) > w { // a word longer than the box: break it
			rs := []rune(word)
			// The longest prefix that fits (at least one letter), by
			// bisection: a prefix is never wider than a longer one.
			n := 1 + sort.Search(len(rs)-1, func(i int) bool { return d.width(f, size, string(rs[:i+2])) > w })
			if cur != "" {
				ls = append(ls, cur)
				cur = ""
			}
			ls = append(ls, string(rs[:n]))
			word = string(rs[n:])
		}
		switch {
		case cur == "":
			cur = word
		case d.width(f, size, cur+" "+word) <= w:
			cur += " " + word
		default:
			ls = append(ls, cur)
			cur = word
		}
	}
	if cur != "" {
		ls = append(ls, cur)
	}
	if len(ls) <= maxLines {
		return ls, true
	}
	ls = ls[:maxLines]
	last := []rune(ls[maxLines-1])
	for len(last) > 0 && d.width(f, size, string(last)+"…") > w {
		last = last[:len(last)-1]
	}
	ls[maxLines-1] = strings.TrimSpace(string(last)) + "…"
	return ls, false
}

// label draws a small label with a bold value under it, fitted to w.
func (d *doc) label(x, y, w float64, lab, val string, size float64, lines int) float64 {
	d.fit(x, y, w, fRegular, 7, 1, black, lab)
	return d.fit(x, y+size*ptMM*1.25, w, fBold, size, lines, black, val)
}

// dashed draws the cutting line above a bollettino.
func (d *doc) dashed(y float64) {
	for x := 0.0; x < pageW; x += 3 {
		d.rect(x, y, 2, 0.3, rule)
	}
}

// modules draws a 2D code as one black rectangle per horizontal run of dark
// modules, side mm wide, on a white quiet zone of q modules.
func (d *doc) modules(kind string, bc barcode.Barcode, x, y, side float64, q int) {
	b := bc.Bounds()
	n := max(b.Dx(), b.Dy())
	mod := side / float64(n)
	d.rect(x-float64(q)*mod, y-float64(q)*mod, float64(b.Dx()+2*q)*mod, float64(b.Dy()+2*q)*mod, white)
	for r := 0; r < b.Dy(); r++ {
		for c := 0; c < b.Dx(); {
			if !dark(bc, c, r) {
				c++
				continue
			}
			s := c
			for c < b.Dx() && dark(bc, c, r) {
				c++
			}
			d.rect(x+float64(s)*mod, y+float64(r)*mod, float64(c-s)*mod, mod, black)
		}
	}
	d.codes = append(d.codes, code{kind: kind, content: bc.Content(), page: len(d.pages) - 1, x: x, y: y, w: side, modules: n})
}

func dark(bc barcode.Barcode, x, y int) bool {
	r, _, _, _ := bc.At(x, y).RGBA()
	return r < 0x8000
}

// qrCode draws the pagoPA QR code of payload, 25 mm wide, with a 4-module
// quiet zone. The guide's page "Codice QR" (docs.pagopa.it/avviso-pagamento,
// allegato-2/specifiche-tecniche/dati-per-il-pagamento/codice-qr) asks for
// ISO/IEC 18004, symbol version 4 (33×33 modules), error correction M; the
// payload, 46 to 56 bytes, always takes version 4 at level M in byte mode.
func (d *doc) qrCode(payload string, x, y float64) error {
	bc, err := qr.Encode(payload, qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("notice: QR code %q: %w", payload, err)
	}
	d.modules("qr", bc, x, y, codeMM, 4)
	return nil
}

// dataMatrix draws the Poste data matrix (ECC 200) of content, 25 mm wide,
// with a 1-module quiet zone (the symbol sits on white already).
func (d *doc) dataMatrix(content string, x, y float64) error {
	bc, err := datamatrix.Encode(content)
	if err != nil {
		return fmt.Errorf("notice: data matrix: %w", err)
	}
	d.modules("datamatrix", bc, x, y, codeMM, 1)
	return nil
}

// PosteDataMatrix is the content of the Poste data matrix of option i of n,
// built as pagopa/pagopa-print-payment-notice-generator builds it
// (src/main/java/it/gov/pagopa/payment/notice/generator/mapper/TemplateDataMapper.java
// @ e32347c, generatePosteDataMatrix and generateCodeline): "codfase=NBPA;",
// then 18+NAV, 12+account (zero-padded to 12), 10+amount in cents (zero-padded
// to 10), 3+"896" (document type), "1P1", and the EC fiscal code, debtor fiscal
// code, debtor name and subject right-padded with spaces to 11, 16, 40 and 110
// characters, 12 spaces and "A". Two differences, both so that the fixed
// positions Poste reads hold: a longer value is cut to its width (the
// generator only pads), and letters are folded to ASCII (à → a), since the
// fields are counted in bytes. It is "" without a postal account.
func (n Notice) PosteDataMatrix(i int) string {
	p := n.EC.Postal
	if p == nil {
		return ""
	}
	o := n.Options[i]
	nav := o.NAV
	if v, err := pagopa.ParseNAV(o.NAV); err == nil {
		nav = v.Value
	}
	return "codfase=NBPA;" +
		"18" + padLeft(nav, 18) +
		"12" + padLeft(p.Account, 12) +
		"10" + padLeft(fmt.Sprint(o.AmountCents), 10) +
		"3" + "896" +
		"1P1" +
		padRight(n.EC.FiscalCode, 11) +
		padRight(n.Debtor.FiscalCode, 16) +
		padRight(n.Debtor.Name, 40) +
		padRight(n.Subject, 110) +
		strings.Repeat(" ", 12) + "A"
}

func padLeft(s string, w int) string {
	if len(s) >= w {
		return s[len(s)-w:]
	}
	return strings.Repeat("0", w-len(s)) + s
}

func padRight(s string, w int) string {
	s = ascii(s)
	if len(s) >= w {
		return s[:w]
	}
	return s + strings.Repeat(" ", w-len(s))
}

// ascii folds s to printable ASCII: accents dropped (NFD without combining
// marks), typographic quotes to plain ones, anything else to a space.
func ascii(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case r >= 0x300 && r <= 0x36f: // combining marks
		case r == '’' || r == '‘':
			b.WriteByte('\'')
		case r == '…':
			b.WriteString("...")
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// groupSize is how many instalments share a band: the guide's layouts hold 2
// or 3 (rate-multiple.md, "Layout con multipli di 2/3"); a count divisible by
// neither repeats the 3-layout, the last band part empty ("Altri casi": one
// module per sheet, not mixed).
func groupSize(n int) int {
	switch {
	case n%3 == 0:
		return 3
	case n%2 == 0:
		return 2
	}
	return 3
}

// layout lays out notices one after the other, each starting on a new page.
func layout(ns []Notice) (*doc, error) {
	d := newDoc()
	for _, n := range ns {
		if err := d.notice(n); err != nil {
			return nil, err
		}
	}
	return d, nil
}

type noticeLayout struct {
	*doc
	n    Notice
	t    texts
	lang string
	y    float64
}

// notice lays out n in the order of the guide's table "Struttura della
// pagina" (struttura/specifiche-tecniche/README.md @ 9185e71): 1 header,
// 2.1 creditor, 2.2 recipient, 3.1 amount and due date, 3.2 where to pay,
// 4 payment data: the single payment, then its Bollettino Postale PA, then
// the instalment bands each followed by theirs.
func (d *doc) notice(n Notice) error {
	lang := n.Lang
	if lang == "" {
		lang = LangIT
	}
	l := &noticeLayout{doc: d, n: n, t: langs[lang], lang: lang}
	l.firstPage()
	var single *int
	var inst []int
	for i, o := range n.Options {
		if o.Installment == 0 {
			single = &i
		} else {
			inst = append(inst, i)
		}
	}
	sort.Slice(inst, func(a, b int) bool { return n.Options[inst[a]].Installment < n.Options[inst[b]].Installment })
	if single != nil {
		if err := l.band(58, func(y float64) error { return l.singleBand(*single, y) }); err != nil {
			return err
		}
		if n.EC.Postal != nil {
			if err := l.band(66, func(y float64) error { return l.postalSingleBand(*single, y) }); err != nil {
				return err
			}
		}
	}
	k := groupSize(len(inst))
	for g := 0; g < len(inst); g += k {
		group := inst[g:min(g+k, len(inst))]
		if n.EC.Postal != nil && l.y+79+86 > bottom {
			// A band of instalments and its bollettino go on one page.
			l.addPage()
			l.y = l.header()
		}
		if err := l.band(79, func(y float64) error { return l.instBand(group, k, y) }); err != nil {
			return err
		}
		if n.EC.Postal != nil {
			if err := l.band(86, func(y float64) error { return l.postalInstBand(group, k, y) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// band places a band of height h on the current page, or on a new one
// (which repeats the header, as intestazione.md asks of every page).
func (l *noticeLayout) band(h float64, draw func(y float64) error) error {
	if l.y+h > bottom {
		l.addPage()
		l.y = l.header()
	}
	err := draw(l.y)
	l.y += h
	return err
}

// header draws the notice title, the subject and the pagoPA mark
// (intestazione.md) and returns where the page goes on.
func (l *noticeLayout) header() float64 {
	l.text(left, 15, fBold, 9, blue, strings.ToUpper(l.t.Title))
	l.rect(172, 9, 28, 9, blue)
	l.text(172+(28-l.width(fBold, 14, "pagoPA"))/2, 15.8, fBold, 14, white, "pagoPA")
	l.fit(left, 22, 155, fBold, 15, 2, black, l.n.Subject)
	l.rect(left, 32, right-left, 0.3, rule)
	return 36
}

func (l *noticeLayout) firstPage() {
	l.addPage()
	y := l.header()
	t, n := l.t, l.n
	// 2.1 Ente creditore (informazioni-sullente-creditore.md).
	yl := y + 3
	l.text(left, yl, fBold, 8, black, strings.ToUpper(t.Creditor))
	yl = l.fit(left, yl+5, 90, fBold, 11, 2, black, n.EC.Name) + 4.5
	if n.EC.Sector != "" {
		yl = l.fit(left, yl, 90, fRegular, 8.5, 1, black, n.EC.Sector) + 4
	}
	if n.EC.Info != "" {
		yl = l.fit(left, yl, 90, fRegular, 8, 2, black, n.EC.Info) + 4
	}
	l.text(left, yl, fRegular, 8.5, black, t.FiscalCode+" "+n.EC.FiscalCode)
	// 2.2 Destinatario (informazioni-sul-destinatario.md).
	x := 110.0
	yr := y + 3
	l.text(x, yr, fBold, 8, black, strings.ToUpper(t.Recipient))
	yr = l.fit(x, yr+5, 90, fBold, 11, 2, black, n.Debtor.Name) + 4.5
	if n.Debtor.Address != "" {
		yr = l.fit(x, yr, 90, fRegular, 8.5, 2, black, n.Debtor.Address) + 4
	}
	l.text(x, yr, fRegular, 8.5, black, t.FiscalCode+" "+n.Debtor.FiscalCode)
	y = max(yl, yr) + 5

	// 3.1 Quanto e quando pagare? (importo-e-scadenza.md) and 3.2 Dove
	// pagare? (dove-pagare.md), side by side.
	h := 50.0
	l.rect(left, y, 93, h, bandGrey)
	l.rect(107, y, 93, h, bandGrey)
	l.text(left+3, y+6, fBold, 9, black, strings.ToUpper(t.HowMuch))
	var single *Option
	of := 0
	for i, o := range n.Options {
		if o.Installment == 0 {
			single = &n.Options[i]
		}
		of = max(of, o.Of)
	}
	yy := y + 16
	if single != nil {
		w := l.text(left+3, yy, fBold, 18, black, FormatAmount(single.AmountCents, l.lang))
		l.text(left+3+w+2, yy, fRegular, 10, black, t.Euro)
		l.text(left+3, yy+7, fBold, 10, black, t.Within+" "+single.DueDate.Format("02/01/2006"))
		yy += 15
		if of > 0 {
			l.fit(left+3, yy, 87, fRegular, 8.5, 2, black, fmt.Sprintf(t.RatesOrFull, of))
		}
	} else {
		yy = l.fit(left+3, yy-4, 87, fBold, 11, 2, black, fmt.Sprintf(t.RatesOnly, of)) + 6
		l.fit(left+3, yy, 87, fRegular, 8.5, 2, black, t.RatesDetail)
	}
	x = 110
	l.text(x, y+6, fBold, 9, black, strings.ToUpper(t.Where))
	l.textRight(right-3, y+6, fRegular, 7.5, black, t.CTA)
	l.text(x, y+14, fBold, 9, black, strings.ToUpper(t.Online))
	yy = l.fit(x, y+18.5, 87, fRegular, 8, 3, black, t.OnlineText)
	l.text(x, yy+7, fBold, 9, black, strings.ToUpper(t.Territory))
	l.fit(x, yy+11.5, 87, fRegular, 8, 3, black, t.TerritoryText)
	l.y = y + h + 4
}

// bar is the grey title strip of a band.
func (l *noticeLayout) bar(y float64, title, right string) {
	l.rect(left, y, pageW-2*left, 8, bandGrey)
	w := l.text(left+2, y+5.5, fBold, 9, black, strings.ToUpper(title))
	if title == l.t.PostalSlip {
		l.text(left+2+w+4, y+5.5, fBold, 9, blue, "BancoPosta")
	}
	if right != "" {
		l.textRight(pageW-left-2, y+5.5, fBold, 9, black, right)
	}
}

func (l *noticeLayout) due(o Option) string { return o.DueDate.Format("02/01/2006") }

func (l *noticeLayout) rata(o Option) string {
	if o.Installment == 0 {
		return l.t.Single
	}
	return strings.ReplaceAll(l.t.Installment, "[n]", fmt.Sprint(o.Installment))
}

// amount draws "1.234,56 Euro" ending at x.
func (l *noticeLayout) amount(xr, y float64, size float64, cents int64) {
	e := l.width(fRegular, 8.5, l.t.Euro)
	l.text(xr-e, y, fRegular, 8.5, black, l.t.Euro)
	l.textRight(xr-e-1.5, y, fBold, size, black, FormatAmount(cents, l.lang))
}

func (l *noticeLayout) nav(i int) string {
	v, err := pagopa.ParseNAV(l.n.Options[i].NAV)
	if err != nil {
		return l.n.Options[i].NAV
	}
	return v.Grouped()
}

// singleBand is "Rata unica" (dati-per-il-pagamento/rata-unica.md): the QR
// code with its instruction, then recipient, creditor, subject, CBILL code,
// notice code and creditor fiscal code.
func (l *noticeLayout) singleBand(i int, y float64) error {
	t, n, o := l.t, l.n, l.n.Options[i]
	l.bar(y, t.PaymentData, l.rata(o)+" "+t.Within+" "+l.due(o))
	if err := l.qrCode(n.QRPayload(i), 14, y+12); err != nil {
		return err
	}
	l.fit(12, y+41, 30, fRegular, 7, 3, black, t.QRSingle)
	x := 48.0
	l.amount(right-2, y+15, 14, o.AmountCents)
	l.label(x, y+14, 95, t.Recipient, n.Debtor.Name, 9, 1)
	l.label(x, y+23, 145, t.Creditor, n.EC.Name, 9, 1)
	l.label(x, y+32, 145, t.Subject, n.Subject, 8.5, 2)
	l.codes3(x, y+47, o, i)
	return nil
}

// codes3 draws the CBILL code, the notice code and the EC fiscal code in a row.
func (l *noticeLayout) codes3(x, y float64, o Option, i int) {
	t := l.t
	if l.n.EC.CBILL != "" { // a creditor without a CBILL code gets no empty box
		l.text(x, y, fRegular, 7, black, t.CBILL)
		l.text(x, y+5, fMono, 10, black, l.n.EC.CBILL)
	}
	l.text(x+22, y, fRegular, 7, black, t.NoticeCode)
	l.text(x+22, y+5, fMono, 10, black, l.nav(i))
	l.textRight(right-2, y, fRegular, 7, black, t.ECFiscalCode)
	l.textRight(right-2, y+5, fMono, 10, black, l.n.EC.FiscalCode)
}

// instBand is one band of the instalment layout in multiples of k
// (rate-multiple.md): per column the instalment, its due date, amount, QR
// code, CBILL code, EC fiscal code and notice code; under them the data
// shared by the band.
func (l *noticeLayout) instBand(group []int, k int, y float64) error {
	t, n := l.t, l.n
	l.bar(y, t.PaymentData, "")
	cw := (right - left) / float64(k)
	c := y + 10
	for j, i := range group {
		o := n.Options[i]
		x := left + float64(j)*cw + 2
		if j > 0 {
			l.rect(x-2, c, 0.3, 48, rule)
		}
		w := l.text(x, c+4, fBold, 9, black, l.rata(o))
		l.fit(x+w+1.5, c+4, cw-w-5, fRegular, 8.5, 1, black, t.Within+" "+l.due(o))
		l.amount(x+cw-4, c+10, 12, o.AmountCents)
		if err := l.qrCode(n.QRPayload(i), x+1, c+13); err != nil {
			return err
		}
		xr := x + 29
		if n.EC.CBILL != "" {
			l.text(xr, c+17, fRegular, 7, black, t.CBILL)
			l.text(xr, c+21.5, fMono, 9, black, n.EC.CBILL)
		}
		l.text(xr, c+28, fRegular, 7, black, t.ECFiscalCode)
		l.text(xr, c+32.5, fMono, 9, black, n.EC.FiscalCode)
		l.text(x, c+43, fRegular, 7, black, t.NoticeCode)
		l.text(x, c+47.5, fMono, 9, black, l.nav(i))
	}
	s := c + 52
	l.rect(left, s-1.5, right-left, 0.3, rule)
	l.fit(left+2, s+3, 50, fRegular, 7, 3, black, t.QRRates)
	l.label(66, s+3, 62, t.Recipient, n.Debtor.Name, 8.5, 1)
	l.label(132, s+3, 66, t.Creditor, n.EC.Name, 8.5, 1)
	l.label(66, s+12, 132, t.Subject, n.Subject, 8.5, 1)
	return nil
}

// postalSingleBand is the Bollettino Postale PA after the single payment
// (bollettino-postale-pa.md @ d127a50, "Rata unica"): the account number,
// holder, recipient, subject, notice code, type, EC fiscal code, amount, the
// data matrix and Poste's authorisation. The labels are not among the
// guide's fixed texts; they are those of the guide's picture of the section.
func (l *noticeLayout) postalSingleBand(i int, y float64) error {
	t, n, o := l.t, l.n, l.n.Options[i]
	p := n.EC.Postal
	l.dashed(y + 1)
	l.bar(y+4, t.PostalSlip, l.rata(o)+" "+t.Within+" "+l.due(o))
	b := y + 16
	l.fit(12, b+2, 34, fRegular, 7, 6, black, t.PostalText)
	if p.Authorization != "" {
		l.fit(12, b+40, 34, fRegular, 6, 2, grey70, p.Authorization)
	}
	x, xr := 50.0, 165.0
	w := l.text(x, b+4, fRegular, 8, black, t.OnAccount)
	l.text(x+w+2, b+4, fMono, 11, black, p.Account)
	l.amount(xr, b+4, 12, o.AmountCents)
	l.label(x, b+10, xr-x, t.Owner, strings.ToUpper(l.owner()), 8.5, 1)
	l.label(x, b+19, xr-x, t.Recipient, strings.ToUpper(n.Debtor.Name), 8.5, 1)
	l.label(x, b+28, xr-x, t.Subject, strings.ToUpper(n.Subject), 8, 2)
	l.text(x, b+43, fRegular, 7, black, t.NoticeCode)
	l.text(x, b+48, fMono, 10, black, l.nav(i))
	l.text(x+55, b+43, fRegular, 7, black, t.Type)
	l.text(x+55, b+48, fMono, 10, black, "P1")
	l.textRight(xr, b+43, fRegular, 7, black, t.ECFiscalCode)
	l.textRight(xr, b+48, fMono, 10, black, n.EC.FiscalCode)
	return l.dataMatrix(n.PosteDataMatrix(i), 171, b+2)
}

func (l *noticeLayout) owner() string {
	if o := l.n.EC.Postal.Owner; o != "" {
		return o
	}
	return l.n.EC.Name
}

// postalInstBand is the Bollettino Postale PA of a band of instalments
// (bollettino-postale-pa.md, "Layout con multipli di 2/3").
func (l *noticeLayout) postalInstBand(group []int, k int, y float64) error {
	t, n := l.t, l.n
	p := n.EC.Postal
	l.dashed(y + 1)
	l.bar(y+4, t.PostalSlip, "")
	cw := (right - left) / float64(k)
	c := y + 14
	for j, i := range group {
		o := n.Options[i]
		x := left + float64(j)*cw + 2
		if j > 0 {
			l.rect(x-2, c, 0.3, 48, rule)
		}
		w := l.text(x, c+4, fBold, 9, black, l.rata(o))
		l.fit(x+w+1.5, c+4, cw-w-5, fRegular, 8.5, 1, black, t.Within+" "+l.due(o))
		l.amount(x+cw-4, c+10, 12, o.AmountCents)
		if err := l.dataMatrix(n.PosteDataMatrix(i), x+1, c+13); err != nil {
			return err
		}
		xr := x + 29
		l.text(xr, c+17, fRegular, 7, black, t.OnAccount)
		l.text(xr, c+21.5, fMono, 9, black, p.Account)
		l.text(xr, c+28, fRegular, 7, black, t.Type)
		l.text(xr, c+32.5, fMono, 9, black, "P1")
		l.text(x, c+43, fRegular, 7, black, t.NoticeCode)
		l.text(x, c+47.5, fMono, 9, black, l.nav(i))
	}
	s := c + 52
	l.rect(left, s-1.5, right-left, 0.3, rule)
	l.fit(left+2, s+3, 50, fRegular, 6.5, 4, black, t.PostalText)
	if p.Authorization != "" {
		l.fit(left+2, s+15, 50, fRegular, 6, 1, grey70, p.Authorization)
	}
	l.label(66, s+3, 62, t.Owner, strings.ToUpper(l.owner()), 8.5, 1)
	l.label(132, s+3, 66, t.ECFiscalCode, n.EC.FiscalCode, 8.5, 1)
	l.label(66, s+12, 62, t.Recipient, strings.ToUpper(n.Debtor.Name), 8.5, 1)
	l.label(132, s+12, 66, t.Subject, strings.ToUpper(n.Subject), 8, 1)
	return nil
}
