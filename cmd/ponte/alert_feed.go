package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/connectors/failure"
)

// alertFeedCheck reads the CAP feed at url and prints, per alert, what an
// operator checks before subscribing a comune to it — identifier, sent,
// msgType, severity and urgency, the Italian colour, risk and phase when
// the alert carries them, its areas, and whether it concerns the comune's
// zones or ISTAT codes — then each entry that could not be read, with
// what to do. It fails when the feed itself cannot be read; the error
// keeps its classification (package failure).
func alertFeedCheck(ctx context.Context, w io.Writer, url string, zones, istat []string) error {
	items, errs, err := cap.ReadFeed(ctx, nil, url)
	if err != nil {
		return fmt.Errorf("the feed cannot be read: %w (%s)", err, feedAdvice(err))
	}
	matching := 0
	fmt.Fprintf(w, "Feed %s: %s\n", url, plural(len(items), "alert", "alerts"))
	for _, it := range items {
		a := it.Alert
		in := italianInfo(a)
		fmt.Fprintf(w, "\n%s  %s  sent %s", a.Identifier, a.MsgType, capTime(a.Sent))
		if a.Status != "Actual" {
			fmt.Fprintf(w, "  status %s", a.Status)
		}
		fmt.Fprintln(w)
		if in == nil {
			fmt.Fprintln(w, "  no info block: nothing to tell the citizens")
		} else {
			line := fmt.Sprintf("  severity %s, urgency %s", in.Severity, in.Urgency)
			if ital := cap.ItalianOf(*in); ital != (cap.Italian{}) {
				var words []string
				if ital.Colour != "" {
					words = append(words, ital.Colour.Label("it"))
				}
				if ital.Risk != "" {
					words = append(words, ital.Risk.Label("it"))
				}
				if ital.Phase != "" {
					words = append(words, ital.Phase.Label("it"))
				}
				line += "; " + strings.Join(words, ", ")
			}
			fmt.Fprintln(w, line)
			if h := strings.TrimSpace(in.Headline); h != "" {
				fmt.Fprintf(w, "  headline: %s\n", h)
			}
			if in.Expires != nil {
				fmt.Fprintf(w, "  expires %s\n", capTime(*in.Expires))
			}
			for _, ar := range in.Area {
				var codes []string
				for _, g := range ar.Geocode {
					codes = append(codes, g.ValueName+"="+g.Value)
				}
				if len(codes) > 0 {
					fmt.Fprintf(w, "  area: %s (%s)\n", ar.AreaDesc, strings.Join(codes, ", "))
				} else {
					fmt.Fprintf(w, "  area: %s\n", ar.AreaDesc)
				}
			}
		}
		if a.References != "" {
			fmt.Fprintf(w, "  references: %s\n", a.References)
		}
		switch m := cap.Matches(a, zones, istat); {
		case len(zones) == 0 && len(istat) == 0:
			fmt.Fprintln(w, "  matches: no zones or ISTAT codes given")
		case len(m) > 0:
			matching++
			fmt.Fprintf(w, "  matches: yes (%s)\n", strings.Join(m, ", "))
		default:
			fmt.Fprintln(w, "  matches: no")
		}
		if it.URL != "" {
			fmt.Fprintf(w, "  document: %s\n", it.URL)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nNot read: %s\n", plural(len(errs), "entry", "entries"))
		for _, e := range errs {
			fmt.Fprintf(w, "  %s\n", cmp.Or(e.Entry, "(the feed)"))
			if e.URL != "" && e.URL != e.Entry {
				fmt.Fprintf(w, "    document: %s\n", e.URL)
			}
			fmt.Fprintf(w, "    %v\n    what to do: %s\n", e.Err, feedAdvice(e.Err))
		}
	}
	fmt.Fprintf(w, "\n%s, %d concerning the zones and comuni given; %s not read\n", plural(len(items), "alert", "alerts"), matching, plural(len(errs), "entry", "entries"))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// italianInfo is the info block to show: the Italian one, else the first.
func italianInfo(a *cap.Alert) *cap.Info {
	for i := range a.Info {
		if strings.HasPrefix(strings.ToLower(a.Info[i].Language), "it") {
			return &a.Info[i]
		}
	}
	if len(a.Info) > 0 {
		return &a.Info[0]
	}
	return nil
}

func capTime(t cap.Time) string {
	b, err := t.MarshalText()
	if err != nil {
		return t.String()
	}
	return string(b)
}

// feedAdvice says what to do about a feed's or an entry's error.
func feedAdvice(err error) string {
	var fe *cap.FetchError
	var ce *cap.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "the check was interrupted"
	case errors.Is(err, cap.ErrTooLarge):
		return "the document is larger than any bulletin: ask the publisher what it is"
	case errors.As(err, &ce):
		return "the document breaks CAP 1.2 (the problems are listed above): ask the publisher to fix it; the other bulletins are read"
	case errors.As(err, &fe):
		switch {
		case fe.Status == 0:
			return "the server did not answer: check the URL, the network and any proxy; a later poll retries"
		case fe.Status == http.StatusNotFound || fe.Status == http.StatusGone:
			return "nothing at that URL: check the URL with the publisher (the feed may link a bulletin it removed)"
		case fe.Status == http.StatusUnauthorized || fe.Status == http.StatusForbidden:
			return "access refused: ask the publisher for access, or for the public URL"
		case failure.IsRetryable(err):
			msg := "the publisher's server is busy or failing: a later poll retries"
			if d := failure.RetryAfter(err); d > 0 {
				msg += fmt.Sprintf(" (it asked to wait %s)", d.Round(time.Second))
			}
			return msg
		default:
			return fmt.Sprintf("the server refused the request (HTTP %d): check the URL with the publisher", fe.Status)
		}
	case failure.IsRetryable(err):
		return "a transient failure: a later poll retries"
	}
	return "not a CAP alert or feed the comune can relay: check the URL, and ask the publisher for its CAP feed (Atom or RSS) or documents"
}
