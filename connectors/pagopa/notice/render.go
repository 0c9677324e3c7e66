package notice

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/skip2/go-qrcode"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// texts are the fixed sentences of the notice, after the official template
// (docs.pagopa.it/avviso-pagamento).
type texts struct {
	Title, Creditor, Recipient, FiscalCode, HowMuch, Within, Single, Installment, Of      string
	ChooseSingle, ChooseInstallments, Where, Online, OnlineText, Territory, TerritoryText string
	Slip, SlipText, NoticeCode, CBILL, ECFiscalCode, Euro, Subject, QRHint, PayBy         string
}

var langs = map[string]texts{
	LangIT: {
		Title: "AVVISO DI PAGAMENTO", Creditor: "ENTE CREDITORE", Recipient: "DESTINATARIO AVVISO",
		FiscalCode: "Cod. Fiscale", HowMuch: "QUANTO E QUANDO PAGARE?", Within: "entro il",
		Single: "Rata unica", Installment: "Rata", Of: "di",
		ChooseSingle:       "Puoi pagare in un'unica soluzione con il codice avviso di questa pagina.",
		ChooseInstallments: "Puoi pagare con una unica rata o in %d rate: usa la pagina della rata che paghi.",
		Where:              "DOVE PAGARE?", Online: "PAGA SUL SITO O CON LE APP",
		OnlineText:    "del tuo Ente Creditore, della tua Banca o degli altri canali di pagamento. Potrai pagare con carte, conto corrente, CBILL.",
		Territory:     "PAGA SUL TERRITORIO",
		TerritoryText: "in tutti gli Uffici Postali, in Banca, in Ricevitoria, dal Tabaccaio, al Bancomat, al Supermercato.",
		Slip:          "BOLLETTINO PAGOPA", SlipText: "Inquadra il codice QR o usa il codice avviso per pagare.",
		NoticeCode: "Codice Avviso", CBILL: "Codice CBILL", ECFiscalCode: "Cod. Fiscale Ente Creditore",
		Euro: "Euro", Subject: "Oggetto del pagamento", QRHint: "Inquadra il codice QR con la tua app di pagamento",
		PayBy: "Destinatario",
	},
	LangEN: {
		Title: "PAYMENT NOTICE", Creditor: "CREDITOR ENTITY", Recipient: "NOTICE RECIPIENT",
		FiscalCode: "Tax code", HowMuch: "HOW MUCH AND WHEN TO PAY?", Within: "by",
		Single: "Single payment", Installment: "Installment", Of: "of",
		ChooseSingle:       "You can pay in a single payment with the notice code on this page.",
		ChooseInstallments: "You can pay in a single payment or in %d installments: use the page of the installment you pay.",
		Where:              "WHERE TO PAY?", Online: "PAY ONLINE OR WITH APPS",
		OnlineText:    "of your Creditor Entity, your Bank or other payment channels. You can pay by card, bank account, CBILL.",
		Territory:     "PAY IN PERSON",
		TerritoryText: "at any Post Office, Bank, lottery outlet, tobacconist, ATM or supermarket.",
		Slip:          "PAGOPA PAYMENT SLIP", SlipText: "Scan the QR code or use the notice code to pay.",
		NoticeCode: "Notice code", CBILL: "CBILL code", ECFiscalCode: "Creditor Entity tax code",
		Euro: "Euro", Subject: "Payment subject", QRHint: "Scan the QR code with your payment app",
		PayBy: "Recipient",
	},
}

// Options tunes rendering. The zero value renders compressed PDFs dated
// 1 Jan 2000. (fpdf writes image objects in map order, so two renderings of
// one notice have the same content but not always the same bytes.)
type Options struct {
	// Uncompressed writes plain content streams (tests grep them).
	Uncompressed bool
	// CreationDate is stored in the PDF metadata; zero means a fixed date.
	CreationDate time.Time
}

// Render writes n as a one-notice PDF.
func Render(w io.Writer, n Notice) error { return RenderWith(w, []Notice{n}, Options{}) }

// RenderBatch writes all notices into one PDF, one after the other.
func RenderBatch(w io.Writer, ns []Notice) error { return RenderWith(w, ns, Options{}) }

// RenderWith writes all notices into one PDF with the given options. Every
// notice is validated first; the first invalid one stops rendering with a
// *ValidationError wrapped with its index.
func RenderWith(w io.Writer, ns []Notice, o Options) error {
	if len(ns) == 0 {
		return &ValidationError{Field: "notices", Msg: "nothing to render"}
	}
	for i, n := range ns {
		if err := n.Validate(); err != nil {
			return fmt.Errorf("notice %d: %w", i, err)
		}
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(!o.Uncompressed)
	created := o.CreationDate
	if created.IsZero() {
		created = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetCreator("Ponte", true)
	pdf.SetTitle(ns[0].Subject, true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCatalogSort(true)                      // stable object order where fpdf allows it
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: à è é ì ò ù €
	r := &renderer{pdf: pdf, tr: tr, images: map[string]bool{}}
	for _, n := range ns {
		for i := range n.Options {
			if err := r.page(n, i); err != nil {
				return err
			}
		}
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("notice: pdf: %w", err)
	}
	return pdf.Output(w)
}

// RenderZip writes a zip archive with one PDF per notice, named after the
// notice number of its first option ("<NAV>.pdf").
func RenderZip(w io.Writer, ns []Notice) error {
	zw := zip.NewWriter(w)
	names := map[string]bool{}
	for i, n := range ns {
		if err := n.Validate(); err != nil {
			return fmt.Errorf("notice %d: %w", i, err)
		}
		nav, _ := pagopa.ParseNAV(n.Options[0].NAV)
		name := nav.Value + ".pdf"
		if names[name] {
			return &ValidationError{Field: fmt.Sprintf("notices[%d]", i), Msg: "two notices start with notice number " + nav.Value}
		}
		names[name] = true
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return err
		}
		if err := Render(f, n); err != nil {
			return fmt.Errorf("notice %d: %w", i, err)
		}
	}
	return zw.Close()
}

type renderer struct {
	pdf    *fpdf.Fpdf
	tr     func(string) string
	images map[string]bool
}

// QRPNG encodes payload as the PNG image printed on the notice (error
// correction level M, 4-module quiet zone).
func QRPNG(payload string) ([]byte, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	return q.PNG(-8) // 8 pixels per module
}

// FormatAmount writes cents as euro in the notice language: "1.234,56" (it)
// or "1,234.56" (en).
func FormatAmount(cents int64, lang string) string {
	thou, dec := ".", ","
	if lang == LangEN {
		thou, dec = ",", "."
	}
	neg := cents < 0
	if neg {
		cents = -cents
	}
	units := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	for i, c := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			b.WriteString(thou)
		}
		b.WriteRune(c)
	}
	s := fmt.Sprintf("%s%s%02d", b.String(), dec, cents%100)
	if neg {
		s = "-" + s
	}
	return s
}

func (r *renderer) text(x, y, w, h float64, size float64, style, align, s string) {
	r.pdf.SetFont("Helvetica", style, size)
	r.pdf.SetXY(x, y)
	r.pdf.CellFormat(w, h, r.tr(s), "", 0, align, false, 0, "")
}

func (r *renderer) para(x, y, w, h float64, size float64, style, s string) {
	r.pdf.SetFont("Helvetica", style, size)
	r.pdf.SetXY(x, y)
	r.pdf.MultiCell(w, h, r.tr(s), "", "L", false)
}

func (r *renderer) page(n Notice, i int) error {
	lang := n.Lang
	if lang == "" {
		lang = LangIT
	}
	t := langs[lang]
	o := n.Options[i]
	nav, _ := pagopa.ParseNAV(o.NAV)
	amount := "€ " + FormatAmount(o.AmountCents, lang)
	due := o.DueDate.Format("02/01/2006")
	rata := t.Single
	if o.Installment > 0 {
		rata = fmt.Sprintf("%s %d %s %d", t.Installment, o.Installment, t.Of, o.Of)
	}
	installments := 0
	for _, x := range n.Options {
		installments = max(installments, x.Of)
	}

	p := r.pdf
	p.AddPage()
	p.SetTextColor(0, 0, 0)
	p.SetDrawColor(0, 102, 204)
	p.SetLineWidth(0.4)

	// Header.
	p.SetFillColor(0, 102, 204)
	p.Rect(0, 0, 210, 4, "F")
	r.text(12, 10, 120, 8, 18, "B", "L", t.Title)
	r.text(150, 10, 48, 8, 16, "B", "R", "pagoPA")
	r.para(12, 19, 186, 5.5, 12, "B", n.Subject)

	// Creditor and recipient.
	y := 36.0
	p.Line(12, y, 198, y)
	r.text(12, y+2, 90, 5, 8, "B", "L", t.Creditor)
	r.text(12, y+8, 90, 5, 11, "B", "L", n.EC.Name)
	r.text(12, y+14, 90, 5, 9, "", "L", t.FiscalCode+" "+n.EC.FiscalCode)
	if n.EC.Sector != "" {
		r.para(12, y+20, 88, 4.5, 9, "", n.EC.Sector)
	}
	if n.EC.Info != "" {
		r.para(12, y+25, 88, 4.5, 8, "", n.EC.Info)
	}
	r.text(108, y+2, 90, 5, 8, "B", "L", t.Recipient)
	r.text(108, y+8, 90, 5, 11, "B", "L", n.Debtor.Name)
	r.text(108, y+14, 90, 5, 9, "", "L", t.FiscalCode+" "+n.Debtor.FiscalCode)
	if n.Debtor.Address != "" {
		r.para(108, y+20, 90, 4.5, 9, "", n.Debtor.Address)
	}

	// How much and when.
	y = 80
	p.Line(12, y, 198, y)
	r.text(12, y+2, 186, 5, 8, "B", "L", t.HowMuch)
	r.text(12, y+9, 120, 8, 16, "B", "L", amount+"  "+t.Within+" "+due)
	r.text(140, y+9, 58, 8, 11, "B", "R", rata)
	choose := t.ChooseSingle
	if installments > 0 {
		choose = fmt.Sprintf(t.ChooseInstallments, installments)
	}
	r.para(12, y+19, 186, 4.5, 9, "", choose)

	// Where to pay.
	y = 110
	p.Line(12, y, 198, y)
	r.text(12, y+2, 186, 5, 8, "B", "L", t.Where)
	r.text(12, y+9, 90, 5, 10, "B", "L", t.Online)
	r.para(12, y+15, 88, 4.5, 9, "", t.OnlineText)
	r.text(108, y+9, 90, 5, 10, "B", "L", t.Territory)
	r.para(108, y+15, 90, 4.5, 9, "", t.TerritoryText)

	// Payment slip with the QR code.
	y = 170
	p.SetDashPattern([]float64{2, 1}, 0)
	p.Line(0, y-6, 210, y-6)
	p.SetDashPattern(nil, 0)
	p.SetFillColor(235, 242, 250)
	p.Rect(10, y, 190, 112, "FD")
	r.text(14, y+3, 120, 6, 12, "B", "L", t.Slip)
	r.text(130, y+3, 66, 6, 11, "B", "R", rata)
	r.para(14, y+10, 180, 4.5, 9, "", t.SlipText)

	payload := n.QRPayload(i)
	img := "qr-" + payload
	if !r.images[img] {
		png, err := QRPNG(payload)
		if err != nil {
			return fmt.Errorf("notice: QR code for %s: %w", nav.Value, err)
		}
		p.RegisterImageOptionsReader(img, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
		r.images[img] = true
	}
	p.ImageOptions(img, 16, y+20, 50, 50, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	r.para(16, y+72, 50, 3.5, 7, "", t.QRHint)

	x := 74.0
	row := func(yy float64, label, value string, size float64) {
		r.text(x, yy, 120, 4, 8, "", "L", label)
		r.text(x, yy+4, 120, 6, size, "B", "L", value)
	}
	row(y+20, t.PayBy, n.Debtor.Name+"  ("+n.Debtor.FiscalCode+")", 10)
	row(y+32, t.Euro, FormatAmount(o.AmountCents, lang)+"   "+t.Within+" "+due, 12)
	row(y+44, t.Creditor, n.EC.Name, 10)
	subj := n.Subject
	if len([]rune(subj)) > 70 {
		subj = string([]rune(subj)[:69]) + "…"
	}
	row(y+56, t.Subject, subj, 9)
	yy := y + 68.0
	if n.EC.CBILL != "" {
		r.text(x, yy, 40, 4, 8, "", "L", t.CBILL)
		r.text(x, yy+4, 40, 6, 11, "B", "L", n.EC.CBILL)
		x2 := x + 42
		r.text(x2, yy, 80, 4, 8, "", "L", t.NoticeCode)
		r.text(x2, yy+4, 80, 6, 11, "B", "L", nav.Grouped())
	} else {
		row(yy, t.NoticeCode, nav.Grouped(), 11)
	}
	row(y+80, t.ECFiscalCode, n.EC.FiscalCode, 11)
	if err := p.Error(); err != nil {
		return errors.Join(errors.New("notice: pdf"), err)
	}
	return nil
}
