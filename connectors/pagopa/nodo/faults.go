package nodo

// Fault codes an EC returns (nodo-ec-soap.md, "Fault codes an EC returns").
const (
	CodeIDDominioErrato       = "PAA_ID_DOMINIO_ERRATO"
	CodeIDIntermediarioErrato = "PAA_ID_INTERMEDIARIO_ERRATO"
	CodeStazioneIntErrata     = "PAA_STAZIONE_INT_ERRATA"
	CodePagamentoSconosciuto  = "PAA_PAGAMENTO_SCONOSCIUTO"
	CodePagamentoScaduto      = "PAA_PAGAMENTO_SCADUTO"
	CodePagamentoAnnullato    = "PAA_PAGAMENTO_ANNULLATO"
	CodePagamentoDuplicato    = "PAA_PAGAMENTO_DUPLICATO"
	CodePagamentoInCorso      = "PAA_PAGAMENTO_IN_CORSO"
	CodeReceiptDuplicata      = "PAA_RECEIPT_DUPLICATA"
	CodeImportoNonValido      = "PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO"
	CodeSintassiXSD           = "PAA_SINTASSI_XSD"
	CodeSintassiExtraXSD      = "PAA_SINTASSI_EXTRAXSD"
	CodeSemantica             = "PAA_SEMANTICA"
	CodeSystemError           = "PAA_SYSTEM_ERROR"
)

// faultStrings are the short texts sent in faultString (Italian, as the
// Nodo's operators read them).
var faultStrings = map[string]string{
	CodeIDDominioErrato:       "La PAA non corrisponde al Dominio indicato",
	CodeIDIntermediarioErrato: "Identificativo intermediario non corrispondente",
	CodeStazioneIntErrata:     "Stazione intermediario non corrispondente",
	CodePagamentoSconosciuto:  "Pagamento in attesa risulta sconosciuto all'Ente Creditore",
	CodePagamentoScaduto:      "Pagamento in attesa risulta scaduto all'Ente Creditore",
	CodePagamentoAnnullato:    "Pagamento in attesa risulta annullato all'Ente Creditore",
	CodePagamentoDuplicato:    "Pagamento in attesa risulta concluso all'Ente Creditore",
	CodePagamentoInCorso:      "Pagamento in attesa risulta in corso all'Ente Creditore",
	CodeReceiptDuplicata:      "Receipt gia' ricevuta dall'Ente Creditore",
	CodeImportoNonValido:      "L'importo del pagamento in attesa non e' congruente",
	CodeSintassiXSD:           "Errore di sintassi XSD",
	CodeSintassiExtraXSD:      "Errore di sintassi extra XSD",
	CodeSemantica:             "Errore semantico",
	CodeSystemError:           "Errore generico",
}

// FaultError is a business error with a PAA_* code. Backends return the
// Err* values (or their own *FaultError with a Description); errors.Is
// matches by code.
type FaultError struct {
	Code        string
	Description string
}

func (e *FaultError) Error() string {
	s := "nodo: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Is reports whether target is a *FaultError with the same code.
func (e *FaultError) Is(target error) bool {
	t, ok := target.(*FaultError)
	return ok && t.Code == e.Code
}

// FaultString returns the standard short text for the code.
func (e *FaultError) FaultString() string {
	if s, ok := faultStrings[e.Code]; ok {
		return s
	}
	return e.Code
}

// Errors a Backend returns.
var (
	ErrUnknownEC      = &FaultError{Code: CodeIDDominioErrato}
	ErrUnknown        = &FaultError{Code: CodePagamentoSconosciuto}
	ErrExpired        = &FaultError{Code: CodePagamentoScaduto}
	ErrCancelled      = &FaultError{Code: CodePagamentoAnnullato}
	ErrDuplicate      = &FaultError{Code: CodePagamentoDuplicato}
	ErrInProgress     = &FaultError{Code: CodePagamentoInCorso}
	ErrReceiptDup     = &FaultError{Code: CodeReceiptDuplicata}
	ErrAmountMismatch = &FaultError{Code: CodeImportoNonValido}
	ErrSemantic       = &FaultError{Code: CodeSemantica}
)
