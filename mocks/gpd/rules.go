package gpd

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// GPD's rules beyond the JSON schema of the contract, from the specs'
// key facts: pagopa-debt-position @597562dd,
// util/DebtPositionValidation.java and
// model/enumeration/DebtPositionStatus.java. The contract itself (types,
// required fields, lengths, enums, IBAN pattern, at most 10 metadata) is
// checked at run time before these rules run.

// twoUpper is the contract's "[A-Z]{2}" (country, provincialResidence)
// anchored: the contract's pattern is unanchored, so "XRMX" matches it,
// but GPD's bean validation (@Pattern) matches the whole value.
var twoUpper = regexp.MustCompile(`^[A-Z]{2}$`)

// isEmail is Jakarta Bean Validation's @Email as Hibernate Validator
// implements it (org.hibernate.validator.internal.constraintvalidators.
// AbstractEmailValidator and DomainNameUtil), which GPD's
// PaymentPositionModel.email carries though the contract says only
// "type: string": a local part of at most 64 characters made of atoms
// (letters, digits and !#$%&'*+/=?^_`{|}~-, or any non-ASCII) joined by
// dots, then "@", then a domain of labels (letters and digits, inner
// hyphens, at most 63 each; no top-level domain required) or an IP literal
// in brackets. The empty value is valid for @Email (and the field is
// optional).
func isEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if len([]rune(local)) > 64 || !emailLocal.MatchString(local) {
		return false
	}
	if len(domain) > 255 {
		return false
	}
	return emailDomain.MatchString(domain) || emailIPLiteral.MatchString(domain)
}

var (
	emailAtom      = `[a-zA-Z0-9!#$%&'*+/=?^_` + "`" + `{|}~\x{0080}-\x{FFFF}-]+`
	emailLocal     = regexp.MustCompile(`^` + emailAtom + `(\.` + emailAtom + `)*$`)
	emailLabel     = `[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?`
	emailDomain    = regexp.MustCompile(`^` + emailLabel + `(\.` + emailLabel + `)*$`)
	emailIPLiteral = regexp.MustCompile(`^\[(\d{1,3}\.){3}\d{1,3}\]$|^\[IPv6:[0-9a-fA-F:.]+\]$`)
)

// maxTransfers per option, with idTransfer "1".."5".
const maxTransfers = 5

// validate applies the rules to a position to create or update; now is
// the mock's clock. It returns every broken rule, as "path: rule".
func validate(p Position, now time.Time) []string {
	var errs []string
	add := func(path, format string, args ...any) {
		errs = append(errs, path+": "+fmt.Sprintf(format, args...))
	}
	if p.Country != "" && !twoUpper.MatchString(p.Country) {
		add("country", "must be 2 upper-case letters, got %q", p.Country)
	}
	if p.Email != "" && !isEmail(p.Email) {
		add("email", "must be a well-formed email address, got %q", p.Email)
	}
	// On create and update the validity date must be in the future.
	if p.ValidityDate != nil && !p.ValidityDate.After(now) {
		add("validityDate", "must be in the future (%s), got %s", At(now), p.ValidityDate)
	}
	seenIUV := map[string]int{}
	for i, o := range p.PaymentOption {
		op := fmt.Sprintf("paymentOption[%d]", i)
		if j, dup := seenIUV[o.IUV]; dup {
			add(op+".iuv", "duplicates paymentOption[%d].iuv %q", j, o.IUV)
		}
		seenIUV[o.IUV] = i
		// dueDate ≥ validityDate (or now), retentionDate ≥ dueDate.
		floor, what := now, "now"
		if p.ValidityDate != nil {
			floor, what = p.ValidityDate.Time, "validityDate"
		}
		if o.DueDate.Before(floor) {
			add(op+".dueDate", "must not be before %s (%s), got %s", what, At(floor), o.DueDate)
		}
		if o.RetentionDate != nil && o.RetentionDate.Before(o.DueDate.Time) {
			add(op+".retentionDate", "must not be before dueDate (%s), got %s", o.DueDate, o.RetentionDate)
		}
		checkMetadata(op+".paymentOptionMetadata", o.PaymentOptionMetadata, add)
		if n := len(o.Transfer); n > maxTransfers {
			add(op+".transfer", "has %d transfers, at most %d allowed", n, maxTransfers)
		}
		var sum int64
		seenID := map[string]int{}
		for j, t := range o.Transfer {
			tp := fmt.Sprintf("%s.transfer[%d]", op, j)
			if k, dup := seenID[t.IDTransfer]; dup {
				add(tp+".idTransfer", "duplicates %s.transfer[%d].idTransfer %q", op, k, t.IDTransfer)
			}
			seenID[t.IDTransfer] = j
			sum += t.Amount
			// Either an IBAN (optionally with a postal IBAN) or a stamp.
			switch {
			case t.IBAN != "" && t.Stamp != nil:
				add(tp, "iban and stamp are mutually exclusive")
			case t.IBAN == "" && t.Stamp == nil:
				add(tp, "either iban or stamp is required")
			case t.Stamp != nil && t.PostalIBAN != "":
				add(tp+".postalIban", "cannot go with a stamp")
			}
			if s := t.Stamp; s != nil && !twoUpper.MatchString(s.ProvincialResidence) {
				add(tp+".stamp.provincialResidence", "must be 2 upper-case letters, got %q", s.ProvincialResidence)
			}
			checkMetadata(tp+".transferMetadata", t.TransferMetadata, add)
		}
		// The transfers must add up to the option's amount exactly.
		if sum != o.Amount {
			add(op+".transfer", "transfer amounts sum to %d, option amount is %d", sum, o.Amount)
		}
	}
	return errs
}

// checkMetadata: keys are unique (the contract says uniqueItems, which
// only refuses identical pairs).
func checkMetadata(path string, md []Metadata, add func(string, string, ...any)) {
	seen := map[string]int{}
	for i, m := range md {
		if j, dup := seen[m.Key]; dup {
			add(fmt.Sprintf("%s[%d].key", path, i), "duplicates %s[%d].key %q", path, j, m.Key)
		}
		seen[m.Key] = i
	}
}

// Lifecycle (DebtPositionStatus.java): what each operation accepts.
var (
	// Positions in these states cannot be updated (PUT) ...
	notUpdatable = map[string]bool{StatusInvalid: true, StatusExpired: true,
		StatusPartiallyPaid: true, StatusPaid: true, StatusReported: true}
	// ... nor deleted, once a payment is related to them.
	paidStates = map[string]bool{StatusPartiallyPaid: true, StatusPaid: true, StatusReported: true}
	// Only DRAFT can be published; only PUBLISHED and VALID invalidated;
	// only VALID and PARTIALLY_PAID paid.
	publishable = map[string]bool{StatusDraft: true}
	invalidable = map[string]bool{StatusPublished: true, StatusValid: true}
	payable     = map[string]bool{StatusValid: true, StatusPartiallyPaid: true}
)

func problemList(errs []string) string {
	return "invalid debt position: " + strings.Join(errs, "; ")
}
