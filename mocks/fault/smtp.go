package fault

import (
	"fmt"
	"time"
)

// SMTPAction is what an SMTP server does with one mail transaction.
type SMTPAction struct {
	// Delay before answering MAIL FROM.
	Delay time.Duration
	// Drop: close the connection instead of answering MAIL FROM.
	Drop bool
	// Reply, when set, answers MAIL FROM instead of "250": an injected
	// failure (FailNext's status is the reply code, 4xx or 5xx; the error
	// rate answers 451, a transient local error).
	Reply string
}

// SMTPTransaction decides the faults of one mail transaction, the SMTP
// counterpart of an HTTP request; an SMTP server calls it at MAIL FROM.
// Losing the response is decided once the message is accepted: see
// SMTPLose.
func (i *Injector) SMTPTransaction() SMTPAction {
	f := i.Next()
	a := SMTPAction{Delay: f.Latency}
	switch f.Kind {
	case Drop:
		a.Drop = true
	case Fail:
		code, text := f.Failure.Status, f.Failure.Body
		if code == 0 {
			code = 451
		}
		if text == "" {
			text = Detail
		}
		a.Reply = fmt.Sprintf("%d %s", code, text)
	}
	return a
}

// SMTPLose is called when a message has been accepted (stored) at the end
// of DATA; it reports whether the server must close the connection instead
// of answering "250", so that the client does not know the message went
// through.
func (i *Injector) SMTPLose() bool { return i.LoseApplied() }
