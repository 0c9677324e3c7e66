package alertpage

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/ponte-pa/ponte/internal/rome"
)

// The page is for an operator at night under stress: Italian first with
// English beside it, large controls, everything usable without
// JavaScript (which only polls the progress and applies a template on
// change), no external assets.
const style = `
*{box-sizing:border-box}body{font-family:"Titillium Web",Geneva,Tahoma,sans-serif;margin:0;color:#1a1a1a;background:#f5f5f0;font-size:1.15rem;line-height:1.45}
header{background:#0066cc;color:#fff;padding:1rem 2rem;display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap;gap:1rem}
header p{margin:0}.ente{font-size:1.4rem;font-weight:600}header a{color:#fff}
main{max-width:60rem;margin:1.5rem auto;padding:0 1rem}[lang=en],.en{color:#555;font-weight:normal}
h1,h2{line-height:1.2}fieldset{border:1px solid #bbb;border-radius:6px;margin:1rem 0;padding:1rem;background:#fff}
legend{font-weight:700;font-size:1.2rem;padding:0 .4rem}label{display:block;margin:.6rem 0 .2rem;font-weight:600}
input[type=text],input:not([type]),select,textarea{font:inherit;width:100%;padding:.6rem;border:2px solid #888;border-radius:4px;background:#fff}
textarea{min-height:5rem}input:focus,select:focus,textarea:focus{outline:3px solid #f90;border-color:#06c}
.inline label{display:inline-flex;align-items:center;gap:.4rem;margin-right:1.2rem;font-weight:normal}
input[type=radio],input[type=checkbox]{width:1.5rem;height:1.5rem}
.two{display:grid;grid-template-columns:1fr 1fr;gap:0 1rem}@media(max-width:40rem){.two{grid-template-columns:1fr}}
button{font:inherit;font-weight:700;padding:.8rem 1.6rem;border-radius:6px;border:0;background:#06c;color:#fff;cursor:pointer;margin:.5rem .5rem .5rem 0}
button:focus,a.button:focus{outline:3px solid #f90}a.button{display:inline-block;font-weight:700;padding:.8rem 1.6rem;border-radius:6px;background:#06c;color:#fff;text-decoration:none}a.button .en{color:#fff}button.send{background:#c62828;font-size:1.3rem}button.secondary{background:#555}
.field-error{background:#fdecea;border-left:4px solid #c62828;padding:.4rem .8rem;margin:.3rem 0;color:#8e0000;font-weight:600}
.notice{background:#e6f4ea;border-left:4px solid #2e7d32;padding:.6rem 1rem}.error{background:#fdecea;border-left:4px solid #c62828;padding:.6rem 1rem}
.warn{background:#fff4e5;border-left:4px solid #f90;padding:.6rem 1rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #ccc;padding:.4rem .6rem;text-align:left;vertical-align:top}
pre{white-space:pre-wrap;background:#fff;border:1px solid #ccc;padding:.6rem;margin:.3rem 0;font-family:inherit}
.channel{border-top:1px solid #ddd;padding:.4rem 0}.len{font-size:1rem;color:#333}.over{color:#c62828;font-weight:700}
dl{display:grid;grid-template-columns:max-content auto;gap:.3rem 1.2rem}dt{font-weight:600}dd{margin:0}
.colour-verde{border-left:10px solid #2e7d32}.colour-giallo{border-left:10px solid #f4c20d}.colour-arancione{border-left:10px solid #f57c00}.colour-rosso{border-left:10px solid #c62828}
.big{font-size:1.6rem;font-weight:700}`

var phaseLabels = map[string][2]string{
	"awaiting_confirmation": {"in attesa di conferma", "awaiting confirmation"},
	"staging":               {"preparazione dei destinatari", "staging recipients"},
	"sending":               {"invio in corso", "sending"},
	"escalating":            {"attesa consegne, poi canale successivo", "waiting for deliveries"},
	"done":                  {"completata", "done"},
	"cancelling":            {"revoca in corso", "cancelling"},
	"cancelled":             {"revocata", "cancelled"},
}

var funcs = template.FuncMap{
	"has":   func(list []string, v string) bool { return slices.Contains(list, v) },
	"when":  func(t time.Time) string { return t.In(rome.Location).Format("02/01/2006 15:04") },
	"phase": func(p string) [2]string { return phaseLabels[p] },
	"dict":  dict,
}

var pages = template.Must(template.New("pages").Funcs(funcs).Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><style>` + style + `</style></head><body>
<header><div><p class="ente">{{.Name.IT}} — Protezione Civile</p><p lang="en">Civil protection operators</p></div>
{{with .Operator}}<div><span id="operator">{{.Name}} ({{.FiscalCode}})</span>
<form method="post" action="{{$.Base}}/logout" style="display:inline"><input type="hidden" name="csrf" value="{{$.CSRF}}">
<button class="secondary" type="submit">Esci <span class="en">/ Log out</span></button></form></div>{{end}}
</header><main>{{end}}

{{define "foot"}}</main></body></html>{{end}}

{{define "login"}}{{template "head" .}}
<h1>Accesso operatori <span lang="en">/ Operators' login</span></h1>
<p>Questa pagina è per gli operatori di Protezione Civile del comune. Accedi con la tua identità SPID.<br>
<span lang="en">This page is for the comune's civil protection operators. Log in with your SPID identity.</span></p>
<p><a class="button" id="login" href="{{.LoginURL}}">Entra con SPID <span class="en">/ Log in with SPID</span></a></p>
{{template "foot"}}{{end}}

{{define "welcome"}}<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.Next}}">
<title>{{.Title}}</title><style>` + style + `</style></head><body><main>
<p class="notice">Accesso effettuato. <span lang="en">You are logged in.</span></p>
<p><a id="continue" href="{{.Next}}">Vai alla pagina delle allerte <span lang="en">/ Go to the alerts page</span></a></p>
</main></body></html>{{end}}

{{define "forbidden"}}{{template "head" .}}
<h1>Accesso negato <span lang="en">/ Access denied</span></h1>
<p class="error" id="forbidden">Il codice fiscale {{.Citizen.FiscalNumber}} non è tra gli operatori di Protezione Civile abilitati per questo comune. Se devi inviare allerte, chiedi al responsabile di aggiungerti (alerts.operators).<br>
<span lang="en">Fiscal code {{.Citizen.FiscalNumber}} is not among the civil protection operators allowed for this comune. If you need to send alerts, ask the person in charge to add you (alerts.operators).</span></p>
{{template "foot"}}{{end}}

{{define "error"}}{{template "head" .}}
<h1>Errore <span lang="en">/ Error</span></h1>
<p class="error" id="error">{{.Message.IT}}<br><span lang="en">{{.Message.EN}}</span></p>
<p><a href="{{.Base}}/">Torna alle allerte <span lang="en">/ Back to the alerts</span></a></p>
{{template "foot"}}{{end}}

{{define "ferr"}}{{with .}}<p class="field-error" role="alert">{{.}}</p>{{end}}{{end}}

{{define "select"}}<select id="{{.Name}}" name="{{.Name}}">{{range .Options}}<option value="{{.Value}}"{{if eq .Value $.Value}} selected{{end}}>{{.IT}} / {{.EN}}</option>{{end}}</select>{{end}}

{{define "fields"}}{{$f := .Form}}{{$c := .Choices}}
<fieldset><legend>Allerta <span class="en">/ Alert</span></legend>
<div class="two">
<div><label for="colour">Colore <span class="en">/ Colour</span></label>{{template "select" (dict "Name" "colour" "Options" (index $c "colour") "Value" $f.Colour)}}<div id="err-colour">{{template "ferr" (index $f.Errors "colour")}}</div></div>
<div><label for="risk">Rischio <span class="en">/ Risk</span></label>{{template "select" (dict "Name" "risk" "Options" (index $c "risk") "Value" $f.Risk)}}<div id="err-risk">{{template "ferr" (index $f.Errors "risk")}}</div></div>
<div><label for="phase">Fase operativa <span class="en">/ Phase</span></label>{{template "select" (dict "Name" "phase" "Options" (index $c "phase") "Value" $f.Phase)}}<div id="err-phase">{{template "ferr" (index $f.Errors "phase")}}</div></div>
<div><label for="status">Tipo <span class="en">/ Kind</span></label>{{template "select" (dict "Name" "status" "Options" (index $c "status") "Value" $f.Status)}}</div>
</div>
<label for="expires">Validità in ore <span class="en">/ Valid for (hours)</span></label><input id="expires" name="expires" inputmode="numeric" value="{{$f.Expires}}"><div id="err-expires">{{template "ferr" (index $f.Errors "expires")}}</div>
</fieldset>
<fieldset><legend>Area</legend>
<div class="inline">
<label><input type="radio" name="area" value="all" id="area-all"{{if eq $f.AreaMode "all"}} checked{{end}}> Tutto il territorio <span class="en">/ Whole territory</span> ({{.TenantISTAT}})</label>
{{if .Zones}}<label><input type="radio" name="area" value="zones" id="area-zones"{{if eq $f.AreaMode "zones"}} checked{{end}}> Zone di allerta <span class="en">/ Alert zones</span></label>{{end}}
<label><input type="radio" name="area" value="istat" id="area-istat"{{if eq $f.AreaMode "istat"}} checked{{end}}> Codici ISTAT <span class="en">/ ISTAT codes</span></label>
</div>
{{if .Zones}}<div class="inline">{{range .Zones}}<label><input type="checkbox" name="zones" value="{{.ID}}"{{if has $f.Zones .ID}} checked{{end}}> {{.ID}}{{with .Name}} — {{.}}{{end}}</label>{{end}}</div>{{end}}
<div id="err-zones">{{template "ferr" (index $f.Errors "zones")}}</div>
<label for="istat">Codici ISTAT dei comuni <span class="en">/ ISTAT codes of the comuni</span></label><input id="istat" name="istat" value="{{$f.ISTAT}}" placeholder="{{.TenantISTAT}}">
<div id="err-istat">{{template "ferr" (index $f.Errors "istat")}}</div>
<label for="area_desc">Descrizione dell'area (facoltativa) <span class="en">/ Area as people name it (optional)</span></label><input id="area_desc" name="area_desc" value="{{$f.AreaDesc}}">
<div id="err-area_desc">{{template "ferr" (index $f.Errors "area_desc")}}{{template "ferr" (index $f.Errors "area")}}</div>
</fieldset>
<fieldset><legend>Testi <span class="en">/ Texts</span></legend>
<div class="two">
<div><label for="headline_it">Titolo (italiano)</label><input id="headline_it" name="headline_it" value="{{$f.Headline.IT}}"><div id="err-headline_it">{{template "ferr" (index $f.Errors "headline_it")}}</div></div>
<div><label for="headline_en" lang="en">Headline (English)</label><input id="headline_en" name="headline_en" lang="en" value="{{$f.Headline.EN}}"><div id="err-headline_en">{{template "ferr" (index $f.Errors "headline_en")}}</div></div>
<div><label for="description_it">Cosa succede (italiano)</label><textarea id="description_it" name="description_it">{{$f.Description.IT}}</textarea><div id="err-description_it">{{template "ferr" (index $f.Errors "description_it")}}</div></div>
<div><label for="description_en" lang="en">What is happening (English)</label><textarea id="description_en" name="description_en" lang="en">{{$f.Description.EN}}</textarea><div id="err-description_en">{{template "ferr" (index $f.Errors "description_en")}}</div></div>
<div><label for="instruction_it">Cosa fare (italiano)</label><textarea id="instruction_it" name="instruction_it">{{$f.Instruction.IT}}</textarea><div id="err-instruction_it">{{template "ferr" (index $f.Errors "instruction_it")}}</div></div>
<div><label for="instruction_en" lang="en">What to do (English)</label><textarea id="instruction_en" name="instruction_en" lang="en">{{$f.Instruction.EN}}</textarea><div id="err-instruction_en">{{template "ferr" (index $f.Errors "instruction_en")}}</div></div>
</div>
</fieldset>{{end}}

{{define "preview"}}<section id="preview"><h2>Anteprima: cosa leggeranno i cittadini <span class="en">/ Preview: what citizens will read</span></h2>
{{range .}}{{$l := .}}<div class="lang" id="preview-{{.Lang}}"><h3>{{.Label}}</h3>
{{range .Channels}}<div class="channel" id="preview-{{$l.Lang}}-{{.Kind}}"><h4>{{.Label}}</h4>
{{if .Subject}}<p><strong>Oggetto <span class="en">/ Subject</span>:</strong> <span class="subject">{{.Subject}}</span>
{{if .SubjectMax}}<br><span class="len{{if gt .SubjectUnits .SubjectMax}} over{{end}}" id="len-{{$l.Lang}}-{{.Kind}}-subject">{{.SubjectUnits}}/{{.SubjectMax}} caratteri dell'oggetto (unità UTF-16) <span class="en">/ subject characters</span></span>{{end}}</p>{{end}}
<pre class="body">{{.Body}}</pre>
<p class="len">{{.Chars}} caratteri <span class="en">/ characters</span>{{if .Segments}} · <span class="segments{{if gt .Segments .SegmentsMax}} over{{end}}" id="segments-{{$l.Lang}}">{{.Segments}} SMS</span> (max {{.SegmentsMax}}){{end}}</p>
</div>{{end}}</div>{{end}}
</section>{{end}}

{{define "compose"}}{{template "head" .}}{{$f := .Form}}
<h1>Nuova allerta <span lang="en">/ New alert</span></h1>
<form method="get" action="{{.Base}}/" id="template-form">
<label for="template">Modello <span class="en">/ Template</span></label>
<select id="template" name="template" onchange="this.form.submit()"><option value="">— scegli un modello / choose a template —</option>
{{range .Presets}}<option value="{{.ID}}"{{if eq .ID $f.Template}} selected{{end}}>{{.Label}}</option>{{end}}</select>
<noscript><button class="secondary" type="submit">Usa il modello <span class="en">/ Use template</span></button></noscript>
<p class="small">Scegliere un modello sostituisce i testi del modulo. <span lang="en">A template replaces the form's texts.</span></p>
</form>
<form method="post" action="{{.Base}}/" id="compose" class="colour-{{$f.Colour}}">
<input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="template" value="{{$f.Template}}">
<div id="err-general">{{template "ferr" (index $f.Errors "general")}}</div>
<fieldset><legend>Origine <span class="en">/ Source</span></legend><div class="inline">
<label><input type="radio" name="source" value="form" id="source-form"{{if eq $f.Source "form"}} checked{{end}}> Scrivo l'allerta <span class="en">/ I write the alert</span></label>
<label><input type="radio" name="source" value="cap" id="source-cap"{{if eq $f.Source "cap"}} checked{{end}}> Incollo un messaggio CAP <span class="en">/ I paste a CAP message</span></label></div>
<details{{if eq $f.Source "cap"}} open{{end}}><summary>Messaggio CAP 1.2 (XML) <span class="en">/ CAP 1.2 message</span></summary>
<textarea id="cap" name="cap" rows="10">{{$f.CAP}}</textarea></details>
<div id="err-cap">{{template "ferr" (index $f.Errors "cap")}}</div>
</fieldset>
{{template "fields" .}}
<button type="submit" name="action" value="preview" id="preview-button">Anteprima <span class="en">/ Preview</span></button>
{{with .Preview}}{{template "preview" .}}
<fieldset id="confirm-step"><legend>Conferma e invio <span class="en">/ Confirm and send</span></legend>
<p class="warn">L'allerta arriverà subito a tutte le persone dell'area. <span lang="en">The alert reaches everyone in the area at once.</span></p>
<div class="inline"><label><input type="checkbox" name="confirm" value="confermo" id="confirm"> confermo <span class="en">/ I confirm</span></label></div>
{{if $.ConfirmWord}}<label for="retype">Scrivi il colore dell'allerta per confermare: <strong>{{$.ConfirmWord}}</strong> <span class="en">/ Type the alert's colour to confirm</span></label>
<input id="retype" name="retype" autocomplete="off" value="">{{end}}
<div id="err-confirm">{{template "ferr" (index $f.Errors "confirm")}}</div>
<button class="send" type="submit" name="action" value="send" id="send">Invia allerta <span class="en">/ Send alert</span></button>
</fieldset>{{end}}
</form>
{{with .Recent}}<h2>Allerte recenti <span lang="en">/ Recent alerts</span></h2>
<table id="recent"><tr><th>Allerta <span class="en">/ Alert</span></th><th>Creata <span class="en">/ Created</span></th><th>Stato <span class="en">/ State</span></th><th>Versione</th><th>Origine <span class="en">/ Origin</span></th></tr>
{{range .}}<tr><td><a href="{{$.Base}}/a/{{.ID}}">{{.ID}}</a></td><td>{{when .CreatedAt}}</td><td>{{.State}}</td><td>{{.Version}}</td><td>{{.Origin}}</td></tr>{{end}}</table>{{end}}
{{template "foot"}}{{end}}

{{define "alert"}}{{template "head" .}}{{$v := .View}}
<h1>Allerta <span id="alert-id">{{.Alert.ID}}</span> <span lang="en">/ Alert</span></h1>
<p class="big" id="headline">{{.Headline}}</p>
{{if eq .Done "update"}}<p class="notice" id="done">Aggiornamento inviato. <span lang="en">Update sent.</span></p>{{end}}
{{if eq .Done "cancel"}}<p class="notice" id="done">Revoca inviata. <span lang="en">Cancel sent.</span></p>{{end}}
{{if eq .Done "confirm"}}<p class="notice" id="done">Invio confermato. <span lang="en">Sending confirmed.</span></p>{{end}}
<section id="progress"><h2>Avanzamento <span lang="en">/ Progress</span></h2>
<p class="error" id="progress-error"{{if not $v.Error}} hidden{{end}}>{{$v.Error}}</p>
{{with $v.Progress}}{{$ph := phase .Phase}}
<dl><dt>Stato <span class="en">/ State</span></dt><dd><span id="phase" data-phase="{{.Phase}}">{{index $ph 0}} / <span lang="en">{{index $ph 1}}</span></span></dd>
<dt>Versione <span class="en">/ Version</span></dt><dd id="version">{{.Version}} ({{.MsgType}})</dd>
<dt>Destinatari <span class="en">/ Recipients</span></dt><dd id="recipients">{{.Stage.Recipients}}</dd>
<dt>Raggiunti <span class="en">/ Reached</span></dt><dd id="reached">{{.Reached}}</dd>
<dt>In attesa di consegna <span class="en">/ Waiting for delivery</span></dt><dd id="waiting">{{.Waiting}}</dd>
<dt>Non raggiunti <span class="en">/ Not reached</span></dt><dd id="unreached-count">{{.Unreached}}</dd>
</dl>
{{if eq .Phase "awaiting_confirmation"}}<form method="post" action="{{$.Base}}/a/{{$.Alert.ID}}/confirm" id="confirm-form">
<input type="hidden" name="csrf" value="{{$.CSRF}}"><p class="warn">Questa allerta attende la conferma di un operatore prima dell'invio. <span lang="en">This alert waits for an operator's confirmation before it is sent.</span></p>
<div class="inline"><label><input type="checkbox" name="confirm" value="confermo" id="confirm-alert"> confermo <span class="en">/ I confirm</span></label></div>
<button class="send" type="submit" id="confirm-send">Conferma e invia <span class="en">/ Confirm and send</span></button></form>{{end}}
{{end}}
<table id="channels"><thead><tr><th>Canale <span class="en">/ Channel</span></th><th>Inviati <span class="en">/ Sent</span></th><th>Non riusciti <span class="en">/ Failed</span></th></tr></thead>
<tbody>{{range $v.Channels}}<tr data-channel="{{.Channel}}"><td>{{.Channel}}</td><td class="sent">{{.Sent}}</td><td class="failed">{{.Failed}}</td></tr>{{end}}</tbody></table>
<h3>Persone non raggiunte <span lang="en">/ People not reached</span> (<span id="unreached-total">{{$v.UnreachedTotal}}</span>)</h3>
<p class="small">Da chiamare al telefono o raggiungere di persona. <span lang="en">To phone or visit.</span> <noscript><a href="">Aggiorna / Refresh</a></noscript></p>
<table id="unreached"><thead><tr><th>Nome <span class="en">/ Name</span></th><th>Telefono <span class="en">/ Phone</span></th><th>E-mail</th><th>Tentativi <span class="en">/ Attempts</span></th></tr></thead>
<tbody>{{range $v.Unreached}}<tr><td>{{.Name}}</td><td>{{.Phone}}</td><td>{{.Email}}</td><td>{{.Attempts}}</td></tr>{{end}}</tbody></table>
</section>
{{with .Preview}}<details><summary>Messaggio attuale per canale <span class="en">/ Current message per channel</span></summary>{{template "preview" .}}</details>{{end}}
<h2>Versioni <span lang="en">/ Versions</span></h2><ol id="versions">{{range .Versions}}<li>{{.MsgType}} {{.Identifier}} — {{when .CreatedAt}}</li>{{end}}</ol>
{{if not .Preview}}<p class="notice" id="starting">L'allerta sta partendo: la pagina si ricarica per permettere l'aggiornamento. <span lang="en">The alert is starting: the page reloads to allow updates.</span></p>{{else}}
<form method="post" action="{{.Base}}/a/{{.Alert.ID}}/update" id="update">
<h2>Aggiorna <span lang="en">/ Update</span></h2>
<p>Tutte le persone raggiunte ricevono l'aggiornamento; gli invii non ancora fatti della versione precedente sono annullati.<br><span lang="en">Everyone reached gets the update; pending sends of the previous version are dropped.</span></p>
<input type="hidden" name="csrf" value="{{.CSRF}}">
<div id="err-general">{{template "ferr" (index .Form.Errors "general")}}</div>
{{template "fields" .}}
<button type="submit" id="update-send">Invia aggiornamento <span class="en">/ Send update</span></button>
</form>
{{end}}
<form method="post" action="{{.Base}}/a/{{.Alert.ID}}/cancel" id="cancel">
<h2>Revoca <span lang="en">/ Cancel</span></h2>
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="reason_it">Motivo (italiano)</label><input id="reason_it" name="reason_it" value="Cessato allarme.">
<div id="err-reason_it">{{with .CancelErrors}}{{template "ferr" (index . "reason_it")}}{{end}}</div>
<label for="reason_en" lang="en">Reason (English)</label><input id="reason_en" name="reason_en" lang="en" value="The alert is over.">
<button class="send" type="submit" id="cancel-send">Revoca allerta <span class="en">/ Cancel alert</span></button>
</form>
<p><a href="{{.Base}}/">Tutte le allerte <span lang="en">/ All alerts</span></a></p>
<script>
(function(){
var url={{.ProgressURL}}, labels={{.PhaseLabels}};
function cell(tr,t){var td=document.createElement("td");td.textContent=t;tr.appendChild(td);}
function set(id,t){var e=document.getElementById(id);if(e)e.textContent=t;}
function tick(){
fetch(url,{credentials:"same-origin",headers:{"Accept":"application/json"}}).then(function(r){return r.json();}).then(function(v){
var err=document.getElementById("progress-error");err.hidden=!v.error;err.textContent=v.error||"";
var p=v.progress;
// Just started: the page lacks the update form until the alert is stored.
if(p&&p.phase!=="staging"&&document.getElementById("starting")){location.reload();return;}
if(p){var ph=document.getElementById("phase");if(ph){var l=labels[p.phase]||[p.phase,p.phase];ph.dataset.phase=p.phase;ph.textContent=l[0]+" / "+l[1];}
set("version",p.version+" ("+p.msgType+")");set("recipients",p.stage.recipients);set("reached",p.reached);set("waiting",p.waiting);set("unreached-count",p.unreached);}
var tb=document.querySelector("#channels tbody");tb.textContent="";
v.channels.forEach(function(c){var tr=document.createElement("tr");tr.dataset.channel=c.channel;cell(tr,c.channel);cell(tr,c.sent);cell(tr,c.failed);tb.appendChild(tr);});
var ub=document.querySelector("#unreached tbody");ub.textContent="";
v.unreached.forEach(function(u){var tr=document.createElement("tr");cell(tr,u.name);cell(tr,u.phone);cell(tr,u.email);cell(tr,u.attempts);ub.appendChild(tr);});
set("unreached-total",v.unreachedTotal);
if(!(p&&p.phase==="cancelled"))setTimeout(tick,v.final?5000:2000); // done stays open for updates
}).catch(function(){setTimeout(tick,5000);});
}
tick();
})();
</script>
{{template "foot"}}{{end}}
`))

func dict(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func (st *site) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	data["PhaseLabels"] = phaseLabels
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		st.opts.Logger.Error("alertpage: template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Scripts only from the page itself; no frames, no other origins.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
