package alertpage_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium binary; the test skips without one on a
// laptop but fails under CI=true, which installs it (.ci/run).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium binary: install it (apt-get install -y chromium); .ci/run does so when apt is available")
	}
	t.Skip("no chromium binary: install chromium to run the operators' page in a real browser")
	return ""
}

// TestOperatorPageInChromium drives the page in headless Chromium, with
// its JavaScript: SPID login of the operator through the mock IdP (the
// IdP's self-submitting form, the SameSite=Strict session cookie), a
// preview in Italian and English with the SMS segments, the confirmation,
// the live progress reaching "done" with the people not reached, and the
// cancel.
func TestOperatorPageInChromium(t *testing.T) {
	bin := chromium(t)
	e := start(t, 20)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// Start the browser on its own context: the first action's context
	// owns the browser, and the steps' deadlines must not close it.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	// One deadline per step: a loaded machine is slow, not broken.
	fail := func(what string, err error) {
		t.Helper()
		dctx, dcancel := context.WithTimeout(bctx, 5*time.Second)
		defer dcancel()
		loc, lerr := chromedp.Run(dctx, chromedp.Location())
		body, berr := chromedp.Run(dctx, chromedp.Text(chromedp.CSS("body")))
		if lerr != nil || berr != nil {
			body = fmt.Sprintf("(page not readable: %v %v)", lerr, berr)
		}
		t.Fatalf("%s: %v\nat %s:\n%.2000s", what, err, loc, body)
	}
	// With PONTE_SCREENSHOTS=DIR, every step ends with a screenshot (PNG) of the page
	// in DIR: what an operator sees, for the docs and for a person's eyes.
	shots, shot := os.Getenv("PONTE_SCREENSHOTS"), 0
	// One deadline per step: a loaded machine is slow, not broken.
	step := func(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, timeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			fail(what, err)
		}
		if shots != "" {
			img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
			if err != nil {
				t.Fatalf("screenshot after %s: %v", what, err)
			}
			shot++
			name := filepath.Join(shots, fmt.Sprintf("%02d-%s.png", shot, strings.ReplaceAll(what, " ", "-")))
			if err := os.WriteFile(name, img, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// clear empties a field, as select-all and delete would.
	clear := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(document.getElementById(%q).value = "", true)`, id)))
			return err
		})
	}
	value := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
		if err != nil {
			fail("read "+sel, err)
		}
		return v
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail("read "+sel, err)
		}
		return v
	}
	step("open the page and log in with SPID", time.Minute,
		chromedp.Navigate(e.page+"/"),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.Click(chromedp.CSS("a.spid-idp")),
		chromedp.WaitVisible(chromedp.CSS(`select[name=user]`)),
		chromedp.SetValue(chromedp.CSS(`select[name=user]`), "operatore"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "password"),
		chromedp.Click(chromedp.CSS(`button[value=login]`)),
		chromedp.WaitVisible(chromedp.CSS("#compose")),
	)
	if operator := text("#operator"); !strings.Contains(operator, "RSSMRA85T10A562S") {
		t.Fatalf("logged in as %q", operator)
	}
	// A template chosen in the select fills the form (its form is a GET).
	step("choose a template", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#template"), "rosso-idraulico-allarme"),
		chromedp.Submit(chromedp.CSS("#template")),
		chromedp.WaitReady(chromedp.CSS(`#colour option[value=rosso]:checked`)),
		chromedp.SetValue(chromedp.CSS("#template"), "arancione-idraulico-preallarme"),
		chromedp.Submit(chromedp.CSS("#template")),
		chromedp.WaitReady(chromedp.CSS(`#colour option[value=arancione]:checked`)),
	)
	if phase := value("#phase"); phase != "preallarme" {
		t.Error("the template did not set the phase")
	}
	step("write the headline and preview", time.Minute,
		chromedp.WaitVisible(chromedp.CSS("#compose")),
		clear("headline_it"),
		chromedp.SendKeys(chromedp.CSS("#headline_it"), "Piena del torrente Esempio stanotte"),
		clear("headline_en"),
		chromedp.SendKeys(chromedp.CSS("#headline_en"), "Esempio stream flood tonight"),
		chromedp.Click(chromedp.CSS("#preview-button")),
		chromedp.WaitVisible(chromedp.CSS("#preview")),
	)
	itSMS, enSMS, itIO, segments := text("#preview-it-sms"), text("#preview-en-sms"), text("#preview-it-appio"), text("#segments-it")
	if !strings.Contains(itSMS, "ALLERTA ARANCIONE") || !strings.Contains(itSMS, "Piena del torrente Esempio stanotte") {
		t.Errorf("Italian SMS preview: %q", itSMS)
	}
	if !strings.Contains(enSMS, "ORANGE ALERT") || !strings.Contains(enSMS, "Esempio stream flood tonight") {
		t.Errorf("English SMS preview: %q", enSMS)
	}
	if !strings.Contains(itIO, "/120") {
		t.Errorf("App IO preview without the subject's length: %q", itIO)
	}
	if segments != "1 SMS" && segments != "2 SMS" && segments != "3 SMS" {
		t.Errorf("SMS segments shown: %q, want 1-3 SMS", segments)
	}
	step("confirm and send", time.Minute,
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.SendKeys(chromedp.CSS("#retype"), "arancione"),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(chromedp.CSS("#alert-id")),
	)
	id := text("#alert-id")
	// The script polls the progress: no reload.
	step("watch the progress reach done", 3*time.Minute, chromedp.WaitVisible(chromedp.CSS(`#phase[data-phase="done"]`)))
	nctx, ncancel := context.WithTimeout(bctx, 10*time.Second)
	rows, err := chromedp.Run(nctx, chromedp.Nodes(chromedp.CSSAll("#unreached tbody tr"), chromedp.AtLeast(0)))
	ncancel()
	if err != nil {
		fail("read the people not reached", err)
	}
	unreachedText, channelsText := text("#unreached"), text("#channels")
	want := 0
	for _, x := range e.people {
		if !x.Reachable() {
			want++
		}
	}
	if len(rows) != want {
		t.Errorf("%d people listed as not reached, want %d:\n%s", len(rows), want, unreachedText)
	}
	for _, x := range e.people {
		if !x.Reachable() && x.Phone != "" && !strings.Contains(unreachedText, x.Phone) {
			t.Errorf("phone %s of a person not reached is not listed:\n%s", x.Phone, unreachedText)
		}
	}
	if !strings.Contains(channelsText, "sms") && !strings.Contains(channelsText, "appio") {
		t.Errorf("no counts per channel: %q", channelsText)
	}
	step("cancel", 3*time.Minute,
		chromedp.WaitVisible(chromedp.CSS("#update")), // the page reloaded once the alert was stored
		clear("reason_it"),
		chromedp.SendKeys(chromedp.CSS("#reason_it"), "Il livello del torrente è rientrato."),
		chromedp.Click(chromedp.CSS("#cancel-send")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
		chromedp.WaitVisible(chromedp.CSS(`#phase[data-phase="cancelled"]`)),
	)
	rec, err := e.st.Get(context.Background(), id)
	if err != nil || rec.State != "cancelled" || rec.Origin != "operator:RSSMRA85T10A562S" {
		t.Errorf("alert %s in the store: %+v (%v)", id, rec, err)
	}
}
