// Package onboarding checks that a comune is ready to go live: each
// integration (config, secrets, SPID, App IO, GPD, the EC endpoint, sources,
// SMTP) is one check giving ok, missing or failed with the next step, who to
// ask and the guide's section; runs are kept so a region sees progress week
// by week. The checks are plain functions (Checker) that `ponte onboard
// check` runs in-process and the Check workflow runs as activities.
package onboarding

import "time"

// Names of the workflow, its activities and its task queue.
const (
	WorkflowName   = "onboarding.Check"
	ActivityCheck  = "onboarding.RunCheck"
	ActivitySave   = "onboarding.SaveRun"
	QueueWorkflows = "ponte-onboarding"
)

// Status of one check.
type Status string

// The statuses of a check: ok; missing when the comune has not configured
// or supplied it yet; failed when it is configured but does not work.
const (
	OK      Status = "ok"
	Missing Status = "missing"
	Failed  Status = "failed"
)

// The checks, in the order they run and are shown.
const (
	CheckConfig       = "config"
	CheckSecrets      = "secrets"
	CheckSPIDMetadata = "spid-metadata"
	CheckSPIDIdPs     = "spid-idps"
	CheckAppIO        = "appio"
	CheckGPD          = "gpd"
	CheckEC           = "ec-endpoint"
	CheckSources      = "sources"
	CheckSMTP         = "smtp"
)

// Checks lists every check in order.
var Checks = []string{CheckConfig, CheckSecrets, CheckSPIDMetadata, CheckSPIDIdPs, CheckAppIO, CheckGPD, CheckEC, CheckSources, CheckSMTP}

// Text is a text for people in Italian and English.
type Text struct {
	IT string `json:"it"`
	EN string `json:"en"`
}

// In is the text in lang ("it" or "en"; Italian for any other).
func (t Text) In(lang string) string {
	if lang == "en" {
		return t.EN
	}
	return t.IT
}

// Item is the outcome of one check of one comune.
type Item struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Detail says what answered or what went wrong (technical, English).
	Detail string `json:"detail"`
	// Next is the next step (empty when ok); Ask who to ask.
	Next Text `json:"next"`
	Ask  Text `json:"ask"`
	// Anchor is the guide's section (docs/onboarding.<lang>.md#Anchor).
	Anchor string `json:"anchor"`
}

// Report is one run of every check of one comune.
type Report struct {
	Tenant string    `json:"tenant"`
	Name   Text      `json:"name"`
	RunAt  time.Time `json:"runAt"`
	Items  []Item    `json:"items"`
}

// Ready is true when every check is ok.
// A run of only some checks (Checker.Only) never says ready.
func (r Report) Ready() bool { return len(r.Items) == len(Checks) && r.Count(OK) == len(r.Items) }

// Count is the number of items with status s.
func (r Report) Count(s Status) int {
	n := 0
	for _, it := range r.Items {
		if it.Status == s {
			n++
		}
	}
	return n
}

// Input is the Check workflow's input.
type Input struct {
	Tenant string `json:"tenant"`
}

// CheckInput is the RunCheck activity's input.
type CheckInput struct {
	Tenant string `json:"tenant"`
	Check  string `json:"check"`
}

// Unloadable is the report of a comune whose config does not load: the
// config check failed with err, every other check missing until it loads.
func Unloadable(id string, err error, runAt time.Time) Report {
	r := Report{Tenant: id, Name: Text{IT: id, EN: id}, RunAt: runAt.UTC()}
	for _, c := range Checks {
		if c == CheckConfig {
			r.Items = append(r.Items, item(c, Failed, err.Error()))
			continue
		}
		r.Items = append(r.Items, item(c, Missing, "not checked: the config does not load"))
	}
	return r
}
