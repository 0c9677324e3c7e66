package alertpage

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/alert"
)

// maxPush bounds a pushed CAP message: an alert is a few kilobytes.
const maxPush = 1 << 20

// problem is an RFC 9457 problem document.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = jsonEncode(w, problem{Type: "about:blank", Title: title, Status: status, Detail: detail})
}

// PushResult is the answer to a pushed CAP alert.
type PushResult struct {
	AlertID string `json:"alertId"`
	// Created is false when an alert with the same CAP identifier exists.
	Created bool   `json:"created"`
	State   string `json:"state"`
	URL     string `json:"url"` // the alert on the operators' page
}

// authorized checks the bearer token against alerts.pushToken in constant
// time (hashes of equal length are compared, so the length leaks nothing).
func (st *site) authorized(r *http.Request, want string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// handlePush takes a CAP 1.2 alert from another system: once it is known
// to concern the tenant, it starts the alert awaiting an operator's
// confirmation. The CAP identifier makes it idempotent: the same message
// again answers 200 with the alert already started.
func (st *site) handlePush(w http.ResponseWriter, r *http.Request) {
	ref := st.t.Alerts.PushToken
	if ref == nil {
		writeProblem(w, http.StatusNotFound, "Push endpoint not configured", "the tenant has no alerts.pushToken")
		return
	}
	want, err := tenant.NewSecret(ref.Ref, st.t.Dir).Resolve()
	if err != nil {
		st.opts.Logger.Error("alertpage: push token does not resolve", "tenant", st.t.ID, "ref", ref.Ref, "err", err)
		writeProblem(w, http.StatusInternalServerError, "Push token unavailable", "")
		return
	}
	if !st.authorized(r, want) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ponte-alerts"`)
		writeProblem(w, http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <alerts.pushToken>")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPush))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeProblem(w, http.StatusRequestEntityTooLarge, "CAP message too large", "a CAP alert is at most 1 MiB")
		return
	}
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "Body not read", err.Error())
		return
	}
	al, err := cap.Parse(bytes.NewReader(body))
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "Not a valid CAP 1.2 message", err.Error())
		return
	}
	if al.MsgType != "Alert" {
		writeProblem(w, http.StatusUnprocessableEntity, "Not a new alert",
			"msgType is "+al.MsgType+": the push endpoint starts alerts (msgType Alert); an operator updates or cancels them on the operator page")
		return
	}
	if !alert.AreaOf(st.t, al).Concerns(st.t) {
		writeProblem(w, http.StatusUnprocessableEntity, "Alert does not concern the tenant",
			"its area names none of the tenant's comuni (alerts.istat) or zones (alerts.zones)")
		return
	}
	capXML, err := cap.Marshal(al)
	if err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, "CAP message not written", err.Error())
		return
	}
	id := alert.AlertID(st.t.ID, al.Identifier)
	started, err := st.startAlert(r.Context(), alert.Input{AlertID: id, TenantID: st.t.ID, CAP: string(capXML), Origin: "push", AwaitConfirm: true})
	if err != nil {
		st.opts.Logger.Error("alertpage: push: starting alert", "tenant", st.t.ID, "alert", id, "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "Alert not started", "try again")
		return
	}
	res := PushResult{AlertID: id, Created: started, State: alert.StateAwaiting, URL: st.base + "/a/" + url.PathEscape(id)}
	status := http.StatusAccepted
	if !started {
		status = http.StatusOK
		if rec, err := st.opts.Store.Get(r.Context(), id); err == nil {
			res.State = rec.State
		}
	} else {
		st.opts.Logger.Info("alertpage: alert pushed, awaiting confirmation", "tenant", st.t.ID, "alert", id)
	}
	writeJSON(w, status, res)
}
