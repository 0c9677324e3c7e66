package notice

import (
	"archive/zip"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// texts are the fixed texts of the notice. They are the guide's "Stringhe
// dei testi fissi" (allegato-1/varianti/traduzioni/README.md, Italiano and
// Inglese tabs), except the two "Dove pagare" paragraphs, which are those of
// dove-pagare.md: that page says not to alter them, and for the physical
// channels its Italian differs from the strings page ("Tabaccherie, e altri
// Esercenti Convenzionati" against "Tabaccherie e altri Operatori
// Abilitati"); the page that says "do not alter" wins. The variants used are
// those for a creditor whose own website and counters do not take the
// payment. Section titles are printed in capitals, as in the guide's
// pictures. The Bollettino Postale PA labels are not among the fixed texts;
// the Italian ones are those of the guide's picture of that section and the
// English ones are ours.
type texts struct {
	Title, Creditor, Recipient, FiscalCode                     string
	HowMuch, Euro, Within, RatesOrFull, RatesOnly, RatesDetail string
	Where, CTA, Online, OnlineText, Territory, TerritoryText   string
	PaymentData, Single, Installment, QRSingle, QRRates        string
	Subject, CBILL, NoticeCode, ECFiscalCode                   string
	PostalSlip, PostalText, OnAccount, Owner, Type             string
}

var langs = map[string]texts{
	LangIT: {
		Title: "Avviso di pagamento", Creditor: "Ente Creditore", Recipient: "Destinatario", FiscalCode: "Cod. Fiscale",
		HowMuch: "Quanto e quando pagare?", Euro: "Euro", Within: "entro il",
		RatesOrFull: "Puoi pagare per intero o in %d rate", RatesOnly: "Puoi pagare in %d rate",
		RatesDetail: "Importi e scadenze sono riportati nel dettaglio di ogni singola rata.",
		Where:       "Dove pagare?", CTA: "vai su pagopa.gov.it",
		Online:        "Paga con l'app IO",
		OnlineText:    "oppure dal tuo Home Banking, con la tua app di pagamento o con gli altri canali abilitati.",
		Territory:     "Paga sul territorio",
		TerritoryText: "presso Banche e Sportelli ATM, negli Uffici Postali e Punti Postali, nei Bar, Edicole, Ricevitorie, Supermercati, Tabaccherie, e altri Esercenti Convenzionati.",
		PaymentData:   "Dati per il pagamento", Single: "Rata unica", Installment: "Rata [n]",
		QRSingle: "Inquadra il codice QR con la tua app di pagamento o usa i dati accanto.",
		QRRates:  "Inquadra il codice QR con la tua app di pagamento o usa i dati sopra.",
		Subject:  "Oggetto del pagamento", CBILL: "Cod. CBILL", NoticeCode: "Cod. Avviso", ECFiscalCode: "Cod. Fiscale Ente",
		PostalSlip: "Bollettino Postale PA",
		PostalText: "Bollettino Postale pagabile in tutti gli Uffici Postali e sui canali fisici o digitali abilitati di Poste Italiane e dell'Ente Creditore",
		OnAccount:  "sul C/C n.", Owner: "Intestato a", Type: "Tipo",
	},
	LangEN: {
		Title: "Payment Notice", Creditor: "Payee", Recipient: "Recipient", FiscalCode: "Tax Code",
		HowMuch: "How much and when to pay?", Euro: "Euro", Within: "Due Date",
		RatesOrFull: "You can pay the full amount or split in %d installments", RatesOnly: "You can pay in %d installments",
		RatesDetail: "You can find due dates and amounts within each installment.",
		Where:       "Where to pay?", CTA: "Go to pagopa.gov.it",
		Online:        "Pay with IO app",
		OnlineText:    "or with your Home Banking, payment app or the other authorized channels.",
		Territory:     "Pay locally",
		TerritoryText: "at Banks and ATMs, in Post Offices, Cafés, Newsagents, Betting and Tobacco Shops, Supermarkets and other Enabled Merchants.",
		PaymentData:   "Payment details", Single: "Full amount", Installment: "Installment #[n]",
		QRSingle: "Scan the QR Code with your payment app or use the data printed here.",
		QRRates:  "Scan the QR Code with your payment app or use the data printed above.",
		Subject:  "Payment Description", CBILL: "CBILL Code", NoticeCode: "Notice Code", ECFiscalCode: "Payee Tax Code",
		PostalSlip: "Bollettino Postale PA",
		PostalText: "Postal payment slip payable at every Post Office and on the enabled physical or digital channels of Poste Italiane and of the Payee",
		OnAccount:  "on postal account no.", Owner: "Account holder", Type: "Type",
	},
}

// Options tunes rendering. The zero value renders compressed PDFs dated
// 1 Jan 2000. The PDF holds no image (the codes are vector), so one notice
// always renders to the same bytes.
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

// Pages is how many A4 pages the notices take, each notice starting on a
// new page (as in RenderBatch, and summed over RenderZip's files).
func Pages(ns []Notice) (int, error) {
	for i, n := range ns {
		if err := n.Validate(); err != nil {
			return 0, fmt.Errorf("notice %d: %w", i, err)
		}
	}
	d, err := layout(ns)
	if err != nil {
		return 0, err
	}
	return len(d.pages), nil
}

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
	d, err := layout(ns)
	if err != nil {
		return err
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
	pdf.SetCatalogSort(true)
	writePDF(pdf, d)
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("notice: pdf: %w", err)
	}
	return pdf.Output(w)
}

// writePDF replays the laid-out pages: rectangles as filled paths (the codes
// are vector, one rectangle per run of dark modules) and text in the
// standard Helvetica and Courier fonts, in Windows-1252.
func writePDF(pdf *fpdf.Fpdf, d *doc) {
	for _, ops := range d.pages {
		pdf.AddPage()
		for _, o := range ops {
			switch o.kind {
			case opRect:
				pdf.SetFillColor(int(o.color[0]), int(o.color[1]), int(o.color[2]))
				pdf.Rect(o.x, o.y, o.w, o.h, "F")
			case opText:
				fam, style := fontName(o.font)
				pdf.SetFont(fam, style, o.size)
				pdf.SetTextColor(int(o.color[0]), int(o.color[1]), int(o.color[2]))
				pdf.Text(o.x, o.y, d.tr(o.text))
			}
		}
	}
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
