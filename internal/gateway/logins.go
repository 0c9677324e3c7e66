package gateway

import "net/http"

// LoginReason names why the ACS refused a response, from its answer's
// status: the one place logins are counted sees only what the SP answered
// (the detailed SPID check is in its log line "spid: response rejected").
func LoginReason(status int) (accepted bool, reason string) {
	switch {
	case status == http.StatusSeeOther:
		return true, ""
	case status == http.StatusUnauthorized:
		return false, "idp_error" // the IdP reported a failure (cancelled, wrong credentials…)
	case status == http.StatusRequestEntityTooLarge:
		return false, "too_large"
	case status >= 400 && status < 500:
		return false, "invalid_response" // a check on the response or assertion failed
	default:
		return false, "internal"
	}
}

// countLogins wraps the ACS so that every response posted is counted once,
// by the status the SP answered.
func countLogins(tenant string, acs http.Handler, on func(tenant string, accepted bool, reason string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		acs.ServeHTTP(sw, r)
		accepted, reason := LoginReason(sw.status)
		on(tenant, accepted, reason)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
