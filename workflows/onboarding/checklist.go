package onboarding

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

// DefaultGuide is where the checklists link the guide's sections:
// DefaultGuide + "onboarding.it.md#spid".
const DefaultGuide = "https://github.com/ponte-pa/ponte/blob/main/docs/"

// Langs are the languages of the checklists.
var Langs = []string{"it", "en"}

var words = map[string]map[string]string{
	"it": {"title": "Prontezza all'avvio", "ready": "PRONTO", "notReady": "NON ANCORA PRONTO", "run": "Verifica del",
		"check": "Verifica", "status": "Stato", "detail": "Dettaglio", "next": "Prossimo passo", "ask": "A chi chiedere", "guide": "Guida",
		"ok": "pronto", "missing": "manca", "failed": "errore", "summary": "Riepilogo dei comuni", "comune": "Comune",
		"readyCol": "Pronto", "yes": "sì", "no": "no", "counts": "Pronti", "of": "su", "checksOK": "verifiche ok"},
	"en": {"title": "Readiness to go live", "ready": "READY", "notReady": "NOT READY YET", "run": "Checked on",
		"check": "Check", "status": "Status", "detail": "Detail", "next": "Next step", "ask": "Who to ask", "guide": "Guide",
		"ok": "ready", "missing": "missing", "failed": "failed", "summary": "Summary of the comuni", "comune": "Comune",
		"readyCol": "Ready", "yes": "yes", "no": "no", "counts": "Ready", "of": "of", "checksOK": "checks ok"},
}

// GuideLink is the URL of the guide's section anchor in lang.
func GuideLink(base, lang, anchor string) string {
	if base == "" {
		base = DefaultGuide
	}
	return base + "onboarding." + lang + ".md#" + anchor
}

func mark(s Status) string {
	switch s {
	case OK:
		return "✅"
	case Missing:
		return "⬜"
	case "":
		return "–" // not checked in this run
	}
	return "❌"
}

// mdCell escapes a table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// Markdown is r's checklist in lang.
func Markdown(r Report, lang, guide string) string {
	w := words[lang]
	var b strings.Builder
	state := w["notReady"]
	if r.Ready() {
		state = w["ready"]
	}
	fmt.Fprintf(&b, "# %s — %s\n\n", r.Name.In(lang), w["title"])
	fmt.Fprintf(&b, "**%s** (%d/%d %s) · %s %s · `%s`\n\n", state, r.Count(OK), len(r.Items), w["checksOK"], w["run"], r.RunAt.UTC().Format("2006-01-02 15:04 UTC"), r.Tenant)
	fmt.Fprintf(&b, "| | %s | %s | %s | %s | %s |\n|---|---|---|---|---|---|\n", w["check"], w["status"], w["next"], w["ask"], w["guide"])
	for _, it := range r.Items {
		next, ask := "", ""
		if it.Status != OK {
			next, ask = it.Next.In(lang), it.Ask.In(lang)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | [#%s](%s) |\n", mark(it.Status), Title[it.Check].In(lang), w[string(it.Status)],
			mdCell(next), mdCell(ask), it.Anchor, GuideLink(guide, lang, it.Anchor))
	}
	fmt.Fprintf(&b, "\n## %s\n\n", w["detail"])
	for _, it := range r.Items {
		fmt.Fprintf(&b, "- %s %s: %s\n", mark(it.Status), Title[it.Check].In(lang), it.Detail)
	}
	return b.String()
}

var htmlTpl = template.Must(template.New("checklist").Funcs(template.FuncMap{
	"title": func(check, lang string) string { return Title[check].In(lang) },
	"link":  GuideLink,
	"mark":  mark,
}).Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Name}} — {{index .W "title"}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em .6em;text-align:left}.ok{background:#e6f4e6}.missing{background:#fff7e0}.failed{background:#fde8e8}</style></head>
<body>
{{- if .Summary}}
<h1>{{index .W "summary"}}</h1>
<p>{{index .W "counts"}}: {{.ReadyN}} {{index .W "of"}} {{len .Reports}}</p>
<table><tr><th>{{index .W "comune"}}</th>{{range .Checks}}<th>{{title . $.Lang}}</th>{{end}}<th>{{index .W "checksOK"}}</th><th>{{index .W "readyCol"}}</th></tr>
{{- range .Reports}}
<tr><td><a href="{{.Tenant}}.{{$.Lang}}.html">{{.Name.In $.Lang}}</a></td>{{range .Row $.Checks}}<td class="{{.Status}}">{{mark .Status}}</td>{{end}}<td>{{.Count "ok"}}/{{len .Items}}</td><td>{{if .Ready}}{{index $.W "yes"}}{{else}}{{index $.W "no"}}{{end}}</td></tr>
{{- end}}
<tr><th>{{index .W "checksOK"}}</th>{{range .PerCheck}}<th>{{.}}/{{len $.Reports}}</th>{{end}}<th></th><th>{{.ReadyN}}/{{len .Reports}}</th></tr>
</table>
{{- else}}
<h1>{{.Name}} — {{index .W "title"}}</h1>
<p><strong>{{if .R.Ready}}{{index .W "ready"}}{{else}}{{index .W "notReady"}}{{end}}</strong> ({{.R.Count "ok"}}/{{len .R.Items}} {{index .W "checksOK"}}) · {{index .W "run"}} {{.At}} · <code>{{.R.Tenant}}</code></p>
<table><tr><th></th><th>{{index .W "check"}}</th><th>{{index .W "status"}}</th><th>{{index .W "next"}}</th><th>{{index .W "ask"}}</th><th>{{index .W "guide"}}</th><th>{{index .W "detail"}}</th></tr>
{{- range .R.Items}}
<tr class="{{.Status}}"><td>{{mark .Status}}</td><td>{{title .Check $.Lang}}</td><td>{{index $.W (print .Status)}}</td><td>{{if ne (print .Status) "ok"}}{{.Next.In $.Lang}}{{end}}</td><td>{{if ne (print .Status) "ok"}}{{.Ask.In $.Lang}}{{end}}</td><td><a href="{{link $.Guide $.Lang .Anchor}}">#{{.Anchor}}</a></td><td>{{.Detail}}</td></tr>
{{- end}}
</table>
{{- end}}
</body></html>
`))

type htmlData struct {
	Lang, Name, Guide, At string
	W                     map[string]string
	R                     Report
	Summary               bool
	Reports               []Report
	Checks                []string
	PerCheck              []int
	ReadyN                int
}

// HTML is r's checklist in lang.
func HTML(r Report, lang, guide string) (string, error) {
	var b bytes.Buffer
	err := htmlTpl.Execute(&b, htmlData{Lang: lang, Name: r.Name.In(lang), Guide: guide, W: words[lang], R: r,
		At: r.RunAt.UTC().Format("2006-01-02 15:04 UTC")})
	return b.String(), err
}

// checksOf are the checks the reports hold, in the order of Checks (all
// of them, unless the runs were limited with Checker.Only).
func checksOf(rs []Report) []string {
	var out []string
	for _, c := range Checks {
		for _, r := range rs {
			if _, ok := r.item(c); ok {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// item is the report's item of check c.
func (r Report) item(c string) (Item, bool) {
	for _, it := range r.Items {
		if it.Check == c {
			return it, true
		}
	}
	return Item{}, false
}

// Row is the report's items in the columns' order; a check it does not
// hold is an empty Item.
func (r Report) Row(cols []string) []Item {
	out := make([]Item, len(cols))
	for i, c := range cols {
		out[i], _ = r.item(c)
	}
	return out
}

// summaryCounts are the comuni ready and, per column, the comuni ok.
func summaryCounts(rs []Report, cols []string) (ready int, perCheck []int) {
	perCheck = make([]int, len(cols))
	for _, r := range rs {
		if r.Ready() {
			ready++
		}
		for i, it := range r.Row(cols) {
			if it.Status == OK {
				perCheck[i]++
			}
		}
	}
	return ready, perCheck
}

// SummaryMarkdown is the table of every comune, one row each and a column
// per check, with the counts, in lang.
func SummaryMarkdown(rs []Report, lang string) string {
	w := words[lang]
	cols := checksOf(rs)
	ready, per := summaryCounts(rs, cols)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%s: %d %s %d\n\n| %s |", w["summary"], w["counts"], ready, w["of"], len(rs), w["comune"])
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", Title[c].In(lang))
	}
	fmt.Fprintf(&b, " %s | %s |\n|---|%s---|---|\n", w["checksOK"], w["readyCol"], strings.Repeat("---|", len(cols)))
	for _, r := range rs {
		fmt.Fprintf(&b, "| [%s](%s.%s.md) |", mdCell(r.Name.In(lang)), r.Tenant, lang)
		for _, it := range r.Row(cols) {
			fmt.Fprintf(&b, " %s |", mark(it.Status))
		}
		yes := w["no"]
		if r.Ready() {
			yes = w["yes"]
		}
		fmt.Fprintf(&b, " %d/%d | %s |\n", r.Count(OK), len(r.Items), yes)
	}
	fmt.Fprintf(&b, "| **%s** |", w["checksOK"])
	for _, n := range per {
		fmt.Fprintf(&b, " %d/%d |", n, len(rs))
	}
	fmt.Fprintf(&b, " | %d/%d |\n", ready, len(rs))
	return b.String()
}

// SummaryHTML is SummaryMarkdown as a page.
func SummaryHTML(rs []Report, lang string) (string, error) {
	cols := checksOf(rs)
	ready, per := summaryCounts(rs, cols)
	var b bytes.Buffer
	err := htmlTpl.Execute(&b, htmlData{Lang: lang, W: words[lang], Summary: true, Reports: rs, Checks: cols, PerCheck: per, ReadyN: ready})
	return b.String(), err
}

// WriteChecklists writes into dir, per comune, <id>.<lang>.md and
// <id>.<lang>.html, and summary.<lang>.md and summary.<lang>.html, for
// every language of Langs; it returns the files written.
func WriteChecklists(dir string, rs []Report, guide string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	write := func(name, text string) error {
		p := filepath.Join(dir, name)
		files = append(files, p)
		return os.WriteFile(p, []byte(text), 0o644)
	}
	for _, lang := range Langs {
		for _, r := range rs {
			if err := write(r.Tenant+"."+lang+".md", Markdown(r, lang, guide)); err != nil {
				return files, err
			}
			h, err := HTML(r, lang, guide)
			if err == nil {
				err = write(r.Tenant+"."+lang+".html", h)
			}
			if err != nil {
				return files, err
			}
		}
		if err := write("summary."+lang+".md", SummaryMarkdown(rs, lang)); err != nil {
			return files, err
		}
		h, err := SummaryHTML(rs, lang)
		if err == nil {
			err = write("summary."+lang+".html", h)
		}
		if err != nil {
			return files, err
		}
	}
	return files, nil
}
