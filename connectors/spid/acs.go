package spid

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// ErrCode names one ACS check. A *ValidationError carries one; use
// errors.Is(err, ErrAudience) to test for it.
type ErrCode string

func (c ErrCode) Error() string { return "spid: " + string(c) }

// ACS error codes, in the order the checks run.
const (
	ErrTooLarge              ErrCode = "response_too_large"
	ErrMalformed             ErrCode = "response_malformed"
	ErrDTD                   ErrCode = "response_dtd"
	ErrNotResponse           ErrCode = "not_a_response"
	ErrResponseID            ErrCode = "response_id"
	ErrResponseVersion       ErrCode = "response_version"
	ErrResponseIssueInstant  ErrCode = "response_issue_instant"
	ErrReplay                ErrCode = "replay"
	ErrInResponseTo          ErrCode = "response_in_response_to"
	ErrRelayState            ErrCode = "relay_state"
	ErrDestination           ErrCode = "response_destination"
	ErrIssuer                ErrCode = "response_issuer"
	ErrIssuerFormat          ErrCode = "response_issuer_format"
	ErrStatus                ErrCode = "response_status"
	ErrIdPError              ErrCode = "idp_error"
	ErrResponseSignature     ErrCode = "response_signature"
	ErrEncryptedAssertion    ErrCode = "encrypted_assertion"
	ErrAssertionCount        ErrCode = "assertion_count"
	ErrAssertionUnsigned     ErrCode = "assertion_unsigned"
	ErrAssertionSignature    ErrCode = "assertion_signature"
	ErrAssertionID           ErrCode = "assertion_id"
	ErrAssertionVersion      ErrCode = "assertion_version"
	ErrAssertionIssueInstant ErrCode = "assertion_issue_instant"
	ErrAssertionIssuer       ErrCode = "assertion_issuer"
	ErrAssertionIssuerFormat ErrCode = "assertion_issuer_format"
	ErrSubject               ErrCode = "subject"
	ErrNameID                ErrCode = "nameid"
	ErrNameIDFormat          ErrCode = "nameid_format"
	ErrNameQualifier         ErrCode = "nameid_name_qualifier"
	ErrSubjectConfirmation   ErrCode = "subject_confirmation_method"
	ErrRecipient             ErrCode = "subject_confirmation_recipient"
	ErrSCInResponseTo        ErrCode = "subject_confirmation_in_response_to"
	ErrSCNotOnOrAfter        ErrCode = "subject_confirmation_not_on_or_after"
	ErrConditions            ErrCode = "conditions"
	ErrNotBefore             ErrCode = "conditions_not_before"
	ErrNotOnOrAfter          ErrCode = "conditions_not_on_or_after"
	ErrAudience              ErrCode = "audience"
	ErrAuthnContext          ErrCode = "authn_context"
	ErrLevelTooLow           ErrCode = "level_too_low"
	ErrAttributeMissing      ErrCode = "attribute_missing"
	ErrAttributeEmpty        ErrCode = "attribute_empty"
	ErrAttributeExtra        ErrCode = "attribute_extra"
	ErrUnknownIdP            ErrCode = "unknown_idp"
)

// ValidationError is a rejected Response: Code says which check failed.
type ValidationError struct {
	Code   ErrCode
	Detail string
	// SPIDCode is the IdP's "nr19".."nr25" for ErrIdPError.
	SPIDCode string
}

func (e *ValidationError) Error() string {
	if e.Detail == "" {
		return "spid: response rejected: " + string(e.Code)
	}
	return "spid: response rejected: " + string(e.Code) + ": " + e.Detail
}

// Unwrap makes errors.Is(err, ErrCode) work.
func (e *ValidationError) Unwrap() error { return e.Code }

func fail(code ErrCode, format string, a ...any) *ValidationError {
	return &ValidationError{Code: code, Detail: fmt.Sprintf(format, a...)}
}

// Login is a successfully validated SPID login.
type Login struct {
	IdP           string
	Level         int
	NameID        string
	NameQualifier string
	SessionIndex  string
	Attributes    map[string]string
	RequestID     string
	ReturnTo      string
	ValidUntil    time.Time
}

var spidErrRe = regexp.MustCompile(`ErrorCode nr(\d\d)`)

func parseInstant(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, errors.New("not UTC")
	}
	return time.Parse(time.RFC3339Nano, s)
}

// ValidateResponse checks a base64 SAMLResponse from the HTTP-POST binding
// in a fixed order and returns the login, or a *ValidationError.
func (sp *SP) ValidateResponse(ctx context.Context, b64, relayState string) (*Login, error) {
	return sp.validateResponse(ctx, []byte(b64), relayState)
}

// validateResponse is ValidateResponse on the form's bytes, which it
// overwrites.
func (sp *SP) validateResponse(ctx context.Context, b64 []byte, relayState string) (_ *Login, err error) {
	now := sp.now()
	skew := sp.opts.ClockSkew
	if len(b64) > sp.opts.MaxResponseBytes {
		return nil, fail(ErrTooLarge, "%d bytes", len(b64))
	}
	raw, err := decodeResponse(b64)
	if err != nil || len(raw) == 0 {
		return nil, fail(ErrMalformed, "not base64")
	}
	doc, err := parseStrict(raw)
	if errors.Is(err, errDTD) {
		return nil, fail(ErrDTD, "DTD or entities are refused")
	}
	if err != nil {
		return nil, fail(ErrMalformed, "%v", err)
	}
	resp := doc.Root()
	if resp.Tag != "Response" || resp.NamespaceURI() != NSProtocol {
		return nil, fail(ErrNotResponse, "root is %s", resp.Tag)
	}
	// Response attributes.
	respID, _ := attr(resp, "ID")
	if respID == "" {
		return nil, fail(ErrResponseID, "missing or empty")
	}
	if v, _ := attr(resp, "Version"); v != "2.0" {
		return nil, fail(ErrResponseVersion, "%q", v)
	}
	ii, _ := attr(resp, "IssueInstant")
	respInstant, err := parseInstant(ii)
	if err != nil {
		return nil, fail(ErrResponseIssueInstant, "%q", ii)
	}
	if respInstant.After(now.Add(skew)) {
		return nil, fail(ErrResponseIssueInstant, "in the future")
	}
	irt, _ := attr(resp, "InResponseTo")
	if irt == "" {
		return nil, fail(ErrInResponseTo, "missing or empty")
	}
	// The request is read here and consumed, with the response's and the
	// assertion's IDs recorded against replays, only once every check has
	// passed: one write per login.
	pending, err := sp.store.Pending(ctx, irt, now)
	if errors.Is(err, ErrNotPending) {
		return nil, sp.notPending(ctx, respID, now)
	}
	if err != nil {
		return nil, err
	}
	consumed := false
	defer func() {
		// A refused response still uses up its request: one attempt per
		// request, and no later answer to it is accepted.
		var ve *ValidationError
		if !consumed && errors.As(err, &ve) {
			if cerr := sp.store.Consume(context.WithoutCancel(ctx), pending.ID, nil, now); cerr != nil && !errors.Is(cerr, ErrNotPending) {
				err = errors.Join(err, cerr)
			}
		}
	}()
	if relayState != pending.RelayState {
		return nil, fail(ErrRelayState, "does not match the request")
	}
	if respInstant.Before(pending.IssueInstant.Add(-skew)) {
		return nil, fail(ErrResponseIssueInstant, "before the request")
	}
	acsURL := sp.acsURL(pending.ACSIndex)
	if d, _ := attr(resp, "Destination"); d != acsURL {
		return nil, fail(ErrDestination, "%q", d)
	}
	idp, ok := sp.idps.Lookup(pending.IdP)
	if !ok {
		return nil, fail(ErrUnknownIdP, "%s", pending.IdP)
	}
	if err := checkIssuer(child(resp, NSAssertion, "Issuer"), idp.EntityID, false, ErrIssuer, ErrIssuerFormat); err != nil {
		return nil, err
	}
	// Response signature: optional, but valid when present.
	if child(resp, NSDSig, "Signature") != nil {
		if _, err := verifySigned(resp, idp.Certs); err != nil {
			return nil, fail(ErrResponseSignature, "%v", err)
		}
	}
	status := child(resp, NSProtocol, "Status")
	sc := child(status, NSProtocol, "StatusCode")
	if sc == nil {
		return nil, fail(ErrStatus, "missing StatusCode")
	}
	if v, _ := attr(sc, "Value"); v != StatusSuccess {
		msg := textOf(child(status, NSProtocol, "StatusMessage"))
		e := fail(ErrIdPError, "status %s: %s", v, msg)
		if m := spidErrRe.FindStringSubmatch(msg); m != nil {
			e.SPIDCode = "nr" + m[1]
		}
		if v == "" {
			e.Code = ErrStatus
		}
		return nil, e
	}
	if countDescendants(resp, "EncryptedAssertion") > 0 {
		return nil, fail(ErrEncryptedAssertion, "encrypted assertions are not supported")
	}
	direct := children(resp, NSAssertion, "Assertion")
	if countDescendants(resp, "Assertion") != 1 || len(direct) != 1 {
		return nil, fail(ErrAssertionCount, "need exactly one Assertion")
	}
	as, err := verifySigned(direct[0], idp.Certs)
	if errors.Is(err, errUnsigned) {
		return nil, fail(ErrAssertionUnsigned, "the Assertion must be signed by the IdP")
	}
	if err != nil {
		return nil, fail(ErrAssertionSignature, "%v", err)
	}
	// From here on only the verified copy is read.
	asID, _ := attr(as, "ID")
	if asID == "" {
		return nil, fail(ErrAssertionID, "missing or empty")
	}
	if v, _ := attr(as, "Version"); v != "2.0" {
		return nil, fail(ErrAssertionVersion, "%q", v)
	}
	aii, _ := attr(as, "IssueInstant")
	asInstant, err := parseInstant(aii)
	if err != nil {
		return nil, fail(ErrAssertionIssueInstant, "%q", aii)
	}
	if asInstant.After(now.Add(skew)) || asInstant.Before(pending.IssueInstant.Add(-skew)) {
		return nil, fail(ErrAssertionIssueInstant, "outside the request's lifetime")
	}
	if err := checkIssuer(child(as, NSAssertion, "Issuer"), idp.EntityID, true, ErrAssertionIssuer, ErrAssertionIssuerFormat); err != nil {
		return nil, err
	}
	subj := child(as, NSAssertion, "Subject")
	if subj == nil {
		return nil, fail(ErrSubject, "missing")
	}
	nid := child(subj, NSAssertion, "NameID")
	if nid == nil || textOf(nid) == "" {
		return nil, fail(ErrNameID, "missing or empty")
	}
	if f, _ := attr(nid, "Format"); f != NameIDTransient {
		return nil, fail(ErrNameIDFormat, "%q", f)
	}
	nq, _ := attr(nid, "NameQualifier")
	if nq == "" {
		return nil, fail(ErrNameQualifier, "missing or empty")
	}
	scf := child(subj, NSAssertion, "SubjectConfirmation")
	if m, _ := attr(scf, "Method"); m != CMBearer {
		return nil, fail(ErrSubjectConfirmation, "%q", m)
	}
	scd := child(scf, NSAssertion, "SubjectConfirmationData")
	if r, _ := attr(scd, "Recipient"); r != acsURL {
		return nil, fail(ErrRecipient, "%q", r)
	}
	if r, _ := attr(scd, "InResponseTo"); r != pending.ID {
		return nil, fail(ErrSCInResponseTo, "%q", r)
	}
	nooa, _ := attr(scd, "NotOnOrAfter")
	if t, err := parseInstant(nooa); err != nil {
		return nil, fail(ErrSCNotOnOrAfter, "%q", nooa)
	} else if !now.Add(-skew).Before(t) {
		return nil, fail(ErrSCNotOnOrAfter, "expired")
	}
	cond := child(as, NSAssertion, "Conditions")
	if cond == nil {
		return nil, fail(ErrConditions, "missing")
	}
	nb, _ := attr(cond, "NotBefore")
	if t, err := parseInstant(nb); err != nil {
		return nil, fail(ErrNotBefore, "%q", nb)
	} else if now.Add(skew).Before(t) {
		return nil, fail(ErrNotBefore, "not yet valid")
	}
	na, _ := attr(cond, "NotOnOrAfter")
	validUntil, err := parseInstant(na)
	if err != nil {
		return nil, fail(ErrNotOnOrAfter, "%q", na)
	} else if !now.Add(-skew).Before(validUntil) {
		return nil, fail(ErrNotOnOrAfter, "expired")
	}
	aud := textOf(child(child(cond, NSAssertion, "AudienceRestriction"), NSAssertion, "Audience"))
	if aud != sp.cfg.EntityID {
		return nil, fail(ErrAudience, "%q", aud)
	}
	authn := child(as, NSAssertion, "AuthnStatement")
	ref := textOf(child(child(authn, NSAssertion, "AuthnContext"), NSAssertion, "AuthnContextClassRef"))
	level, err := levelFromURI(ref)
	if err != nil {
		return nil, fail(ErrAuthnContext, "%v", err)
	}
	if level < pending.Level {
		return nil, fail(ErrLevelTooLow, "asked SpidL%d, got SpidL%d", pending.Level, level)
	}
	sessionIndex, _ := attr(authn, "SessionIndex")
	want := sp.attrSet(pending.AttrIndex)
	got := map[string]string{}
	for _, a := range children(child(as, NSAssertion, "AttributeStatement"), NSAssertion, "Attribute") {
		name, _ := attr(a, "Name")
		if _, dup := got[name]; dup {
			return nil, fail(ErrAttributeExtra, "%q returned twice", name)
		}
		got[name] = textOf(child(a, NSAssertion, "AttributeValue"))
	}
	for _, n := range want {
		v, ok := got[n]
		if !ok {
			return nil, fail(ErrAttributeMissing, "%s", n)
		}
		if v == "" {
			return nil, fail(ErrAttributeEmpty, "%s", n)
		}
	}
	if len(got) != len(want) {
		for n := range got {
			if !contains(want, n) {
				return nil, fail(ErrAttributeExtra, "%s", n)
			}
		}
	}
	err = sp.store.Consume(ctx, pending.ID, []SeenID{
		{ID: "resp:" + respID, Until: now.Add(sp.opts.ReplayWindow)},
		{ID: "assertion:" + asID, Until: validUntil.Add(skew)},
	}, now)
	consumed = true
	if errors.Is(err, ErrNotPending) {
		// Answered meanwhile (the same response posted twice at once) or
		// expired since it was read.
		return nil, sp.notPending(ctx, respID, now)
	}
	if re := (*ReplayError)(nil); errors.As(err, &re) {
		return nil, fail(ErrReplay, "%s", strings.Join(re.IDs, ", "))
	}
	if err != nil {
		return nil, err
	}
	return &Login{
		IdP: idp.EntityID, Level: level, NameID: textOf(nid), NameQualifier: nq,
		SessionIndex: sessionIndex, Attributes: got, RequestID: pending.ID,
		ReturnTo: pending.ReturnTo, ValidUntil: validUntil,
	}, nil
}

// notPending is the error for a response to no pending request: a replay
// when its ID was seen with a login, else an unknown, used or expired
// request.
func (sp *SP) notPending(ctx context.Context, respID string, now time.Time) error {
	seen, err := sp.store.Seen(ctx, "resp:"+respID, now)
	if err != nil {
		return err
	}
	if seen {
		return fail(ErrReplay, "response ID already seen")
	}
	return fail(ErrInResponseTo, "not a pending request")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkIssuer(iss *etree.Element, want string, formatRequired bool, code, fmtCode ErrCode) error {
	if iss == nil || textOf(iss) == "" {
		return fail(code, "missing or empty")
	}
	if textOf(iss) != want {
		return fail(code, "%q is not the IdP the request was sent to", textOf(iss))
	}
	f, ok := attr(iss, "Format")
	if (ok || formatRequired) && f != NameIDEntity {
		return fail(fmtCode, "%q", f)
	}
	return nil
}

// Message is a text for citizens in Italian and English.
type Message struct{ IT, EN string }

// SPIDErrorMessages are the texts shown for the IdP's user-side ErrorCodes.
var SPIDErrorMessages = map[string]Message{
	"nr19": {"Autenticazione non riuscita: troppi tentativi con credenziali errate.", "Login failed: too many attempts with wrong credentials."},
	"nr20": {"Non hai credenziali SPID del livello richiesto da questo servizio.", "You do not have SPID credentials of the level this service requires."},
	"nr21": {"Tempo scaduto durante l'autenticazione. Riprova.", "The login timed out. Please try again."},
	"nr22": {"Non hai dato il consenso all'invio dei dati richiesti.", "You did not consent to sending the requested data."},
	"nr23": {"La tua identità SPID risulta sospesa o revocata. Contatta il tuo gestore.", "Your SPID identity is suspended or revoked. Contact your identity provider."},
	"nr25": {"Hai annullato l'accesso.", "You cancelled the login."},
}

// UserMessage returns what to tell the citizen about err.
func UserMessage(err error) Message {
	var ve *ValidationError
	if errors.As(err, &ve) {
		if m, ok := SPIDErrorMessages[ve.SPIDCode]; ok {
			return m
		}
		if ve.Code == ErrIdPError {
			return Message{"L'identity provider non ha completato l'accesso.", "The identity provider did not complete the login."}
		}
		if ve.Code == ErrLevelTooLow {
			return Message{"Il livello SPID usato è inferiore a quello richiesto.", "The SPID level used is lower than required."}
		}
		return Message{"La risposta dell'identity provider non è valida (" + string(ve.Code) + "). Riprova l'accesso.",
			"The identity provider's response is not valid (" + string(ve.Code) + "). Please log in again."}
	}
	return Message{"Accesso non riuscito. Riprova più tardi.", "Login failed. Please try again later."}
}
