package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/notice"
)

var noticeCommands = []*command{
	{name: "nav", summary: "build a notice number: prints IUV, NAV (plain and in 4-digit groups), check digits and, with --ec and --amount, the QR code payload", run: runNoticeNAV},
	{name: "parse", summary: "validate a notice number (spaces allowed) and show its parts; an invalid one is explained with the position of the offending digit", run: runNoticeParse},
	{name: "pdf", summary: "render the pagoPA payment notice PDF (\"avviso di pagamento\"): one notice, a batch in one PDF, or a zip of one PDF per notice", run: runNoticePDF},
}

const noticeNotes = `The file of ponte notice pdf --in notice.json --out notice.pdf holds one notice or a JSON array
of notices (one PDF with all of them, or with --zip a zip archive of one PDF per notice named NAV.pdf).

Notice JSON (example: connectors/pagopa/notice/testdata/notice.json):
  {
    "ec":      {"name": "Comune di Esempio", "fiscalCode": "01234567890",
                "cbill": "A0EDT", "sector": "Ufficio Tributi", "info": "www… tel…",
                "postal": {"account": "000012345678", "owner": "Comune di Esempio",
                           "authorization": "AUT. DB/SSIC/E 12345 DEL 01/01/2026"}},
    "debtor":  {"name": "Mario Rossi", "fiscalCode": "RSSMRA80A01H501U",
                "address": "Via Roma 1, 00100 Roma (RM)"},
    "subject": "TARI 2026",                 (≤90 characters)
    "lang":    "it",                        ("it" or "en"; --lang overrides)
    "options": [                            (single payment, then instalments
      {"nav": "301000000000000144", "amountCents": 24050, "dueDate": "2026-06-30"},
      {"nav": "301000000000000245", "amountCents": 12025, "dueDate": "2026-06-30",
       "installment": 1, "of": 2}, …         two or three to a band)
    ]
  }
  ec.fiscalCode is 11 digits; cbill (5 capital letters or digits), sector,
  info, postal, address and lang are optional; with postal every option also
  gets a Bollettino Postale PA with the Poste data matrix. An option without
  installment/of is the single payment; installments are numbered 1..of with
  the same "of"; amounts are euro cents. Texts have the pagoPA guide's limits
  (ec.name 50, ec.sector 50, ec.info 100, debtor.name 70, debtor.address 140,
  postal.owner 50): a longer one is refused with the field's name.
`

func runNoticeNAV(_ context.Context, args []string) error {
	fs := newFlags("notice nav", `notice nav --aux 3 --segregation 01 --base 0000000000001 [--ec CF --amount CENTS]

aux 0 needs --app-code and a 13-digit base, aux 1 a 17-digit base,
aux 2 a 15-digit base, aux 3 --segregation and a 13-digit base.`)
	aux := fs.Int("aux", 3, "aux digit: 0, 1, 2 or 3")
	seg := fs.String("segregation", "", "segregation code, 2 digits (aux 3)")
	app := fs.String("app-code", "", "application code, 2 digits (aux 0)")
	base := fs.String("base", "", "IUV base: 13 digits (aux 0, 3), 15 (aux 2) or 17 (aux 1)")
	ec := fs.String("ec", "", "EC fiscal code, to print the QR code payload")
	amount := fs.Int64("amount", 0, "amount in euro cents, to print the QR code payload")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *base == "" {
		return usagef("--base is required")
	}
	var iuv string
	switch *aux {
	case 3:
		if *seg == "" {
			return usagef("--segregation is required with --aux 3")
		}
		if len(*seg) != 2 || strings.Trim(*seg, "0123456789") != "" {
			return usagef("--segregation %q: the segregation code is 2 digits (e.g. 01), as in the ente's pagoPA settings", clipArg(*seg))
		}
		v, err := pagopa.NewIUV(*seg, *base)
		if err != nil {
			return usageError{err: fmt.Errorf("--base: %w", err)}
		}
		iuv = v
	case 0:
		if len(*base) != 13 {
			return usagef("--base must be 13 digits with --aux 0, got %d characters", len(*base))
		}
		check, err := pagopa.CheckDigits(0, *app, *base)
		if err != nil {
			return usageError{err: err}
		}
		iuv = *base + check
	case 2:
		if len(*base) != 15 {
			return usagef("--base must be 15 digits with --aux 2, got %d characters", len(*base))
		}
		check, err := pagopa.CheckDigits(2, "", *base)
		if err != nil {
			return usageError{err: err}
		}
		iuv = *base + check
	case 1:
		iuv = *base
	default:
		return usagef("--aux must be 0, 1, 2 or 3")
	}
	code := ""
	if *aux == 0 {
		code = *app
	}
	nv, err := pagopa.NAVFromIUV(*aux, code, iuv)
	if err != nil {
		return usageError{err: err}
	}
	n, _ := pagopa.ParseNAV(nv)
	printNAV(n)
	if *ec != "" || *amount != 0 {
		if len(*ec) != 11 || *amount <= 0 {
			return usagef("--ec must be 11 digits and --amount positive to print the QR payload")
		}
		fmt.Fprintf(stdout, "QR payload:    %s\n", pagopa.QRPayload(n.Value, *ec, *amount))
	}
	return nil
}

func printNAV(n pagopa.NAV) {
	fmt.Fprintf(stdout, "NAV:           %s\n", n.Value)
	fmt.Fprintf(stdout, "NAV (grouped): %s\n", n.Grouped())
	fmt.Fprintf(stdout, "IUV:           %s\n", n.IUV)
	fmt.Fprintf(stdout, "aux digit:     %d\n", n.Aux)
	switch n.Aux {
	case 0:
		fmt.Fprintf(stdout, "app code:      %s\n", n.Code)
	case 3:
		fmt.Fprintf(stdout, "segregation:   %s\n", n.Code)
	}
	fmt.Fprintf(stdout, "base:          %s\n", n.Base)
	if n.Check != "" {
		fmt.Fprintf(stdout, "check digits:  %s\n", n.Check)
	} else {
		fmt.Fprintf(stdout, "check digits:  none (aux 1)\n")
	}
}

func runNoticeParse(_ context.Context, args []string) error {
	fs := newFlags("notice parse", "notice parse NAV")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: ponte notice parse NAV")
	}
	in := strings.Join(pos, " ") // grouped forms arrive as several arguments
	n, err := pagopa.ParseNAV(in)
	if err != nil {
		var ne *pagopa.NAVError
		if errors.As(err, &ne) && ne.Pos >= 0 && ne.Pos < len(in) {
			if len(in) <= 64 {
				fmt.Fprintf(stdout, "%s\n%s^\n", in, strings.Repeat(" ", ne.Pos))
			}
			// People count characters from 1, as the caret above shows.
			msg := fmt.Sprintf("invalid notice number %q: %s at character %d", clipArg(in), ne.Rule, ne.Pos+1)
			if ne.Msg != "" {
				msg += ": " + ne.Msg
			}
			return &oneBasedError{msg: msg, err: ne}
		}
		return err
	}
	fmt.Fprintln(stdout, "valid notice number")
	printNAV(n)
	return nil
}

func runNoticePDF(_ context.Context, args []string) error {
	fs := newFlags("notice pdf", "notice pdf --in notice.json --out notice.pdf [--lang en] [--zip]\n\n(ponte notice --help describes the JSON)")
	in := fs.String("in", "", "notice JSON: one notice or an array")
	out := fs.String("out", "", "output file (PDF, or zip with --zip)")
	lang := fs.String("lang", "", `language: "it" or "en" (default: the notice's, else it)`)
	zipOut := fs.Bool("zip", false, "write a zip with one PDF per notice, named NAV.pdf")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return usagef("--in and --out are required")
	}
	if *lang != "" && *lang != notice.LangIT && *lang != notice.LangEN {
		return usagef("--lang must be it or en")
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return usageError{err: err}
	}
	var ns []notice.Notice
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		err = dec.Decode(&ns)
	} else {
		var n notice.Notice
		err = dec.Decode(&n)
		ns = []notice.Notice{n}
	}
	if err != nil {
		return usagef("%s: %v", *in, err)
	}
	for i := range ns {
		if *lang != "" {
			ns[i].Lang = *lang
		}
		if err := ns[i].Validate(); err != nil {
			return usagef("%s: notice %d: %v", *in, i, err)
		}
	}
	var buf bytes.Buffer
	if *zipOut {
		err = notice.RenderZip(&buf, ns)
	} else {
		err = notice.RenderBatch(&buf, ns)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	pages, err := notice.Pages(ns)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d notices, %d pages, %d bytes\n", *out, len(ns), pages, buf.Len())
	return nil
}

// clipArg keeps an argument short enough to quote in a message.
func clipArg(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// oneBasedError is a NAVError told with positions counted from 1; errors.As
// still finds the NAVError.
type oneBasedError struct {
	msg string
	err *pagopa.NAVError
}

func (e *oneBasedError) Error() string { return e.msg }
func (e *oneBasedError) Unwrap() error { return e.err }
