package cap

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

func readExample(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/allerta-arancione.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The example parses, and writing it back gives the same document, byte
// for byte (the file is written as Marshal writes).
func TestRoundTrip(t *testing.T) {
	in := readExample(t)
	a, err := Parse(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if a.Identifier != "IT-ESEMPIO-2026-0042" || len(a.Info) != 2 || a.Info[1].Language != "en-US" {
		t.Fatalf("parsed %+v", a)
	}
	if want := time.Date(2026, 10, 12, 12, 30, 0, 0, time.UTC); !a.Sent.Equal(want) {
		t.Errorf("sent = %v, want %v", a.Sent, want)
	}
	out, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(out), bytes.TrimSpace(in)) {
		t.Errorf("round trip differs:\n%s", out)
	}
}

func TestUTCIsWrittenWithOffset(t *testing.T) {
	b, err := Time{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}.MarshalText()
	if err != nil || string(b) != "2026-01-02T03:04:05-00:00" {
		t.Errorf("%s %v", b, err)
	}
}

func TestRefused(t *testing.T) {
	good := string(readExample(t))
	tests := []struct {
		name, doc, want string
	}{
		{"wrong namespace", strings.Replace(good, "cap:1.2", "cap:1.1", 1), `namespace "urn:oasis:names:tc:emergency:cap:1.1"`},
		{"no namespace", strings.Replace(good, ` xmlns="urn:oasis:names:tc:emergency:cap:1.2"`, "", 1), "a CAP 1.2 alert is <alert"},
		{"DOCTYPE", strings.Replace(good, "<alert ", "<!DOCTYPE alert [<!ENTITY a \"aaaa\">]>\n<alert ", 1), "DTD"},
		{"DOCTYPE after a comment", strings.Replace(good, "<alert ", "<!-- bollettino -->\n<!DOCTYPE alert [<!ENTITY a \"aaaa\">]>\n<alert ", 1), "DTD"},
		{"entity expansion", strings.Replace(good, "<alert ", `<!DOCTYPE x [<!ENTITY a "&a;&a;">]><alert `, 1), "DTD"},
		{"missing identifier", strings.Replace(good, "<identifier>IT-ESEMPIO-2026-0042</identifier>", "", 1), "identifier: required"},
		{"space in identifier", strings.Replace(good, "IT-ESEMPIO-2026-0042", "IT ESEMPIO", 1), "identifier: characters"},
		{"status not in the list", strings.Replace(good, "<status>Actual</status>", "<status>Real</status>", 1), `status: enumeration: "Real"`},
		{"missing msgType", strings.Replace(good, "<msgType>Alert</msgType>", "", 1), "msgType: required"},
		{"update without references", strings.Replace(good, "<msgType>Alert</msgType>", "<msgType>Update</msgType>", 1), "references: required"},
		{"bad reference", strings.Replace(good, "<msgType>Alert</msgType>", "<msgType>Cancel</msgType><references>x,y</references>", 1), "references[0]: reference"},
		{"restricted without restriction", strings.Replace(good, "<scope>Public</scope>", "<scope>Restricted</scope>", 1), "restriction: required"},
		{"sent in Z", strings.Replace(good, "<sent>2026-10-12T14:30:00+02:00</sent>", "<sent>2026-10-12T12:30:00Z</sent>", 1), `no "Z"`},
		{"missing category", strings.Replace(good, "<category>Met</category>", "", 1), "info[0].category: required"},
		{"bad severity", strings.Replace(good, "<severity>Severe</severity>", "<severity>High</severity>", 1), "info[0].severity: enumeration"},
		{"open polygon", strings.Replace(good, "45.30,11.10 45.10,11.10</polygon>", "45.30,11.10</polygon>", 1), "info[0].area[0].polygon[0]: polygon"},
		{"latitude out of range", strings.Replace(good, "45.10,11.30", "95.10,11.30", 1), "outside -90..90"},
		{"circle without radius", strings.Replace(good, "<circle>45.20,11.20 5</circle>", "<circle>45.20,11.20</circle>", 1), "circle[0]: circle"},
		{"missing areaDesc", strings.Replace(good, "<areaDesc>Zona di allerta B - pianura</areaDesc>", "", 1), "area[0].areaDesc: required"},
		{"not XML", "hello", "no <alert> element"},
		{"unclosed", good[:len(good)/2], "cap:"},
		{"oversize", strings.Replace(good, "<note>", "", 1) + strings.Repeat(" ", MaxSize), "over 4 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

// A bulletin in ISO-8859-1, as some regional sites still write them,
// reads as the same text.
func TestLatin1(t *testing.T) {
	doc := strings.Replace(string(readExample(t)), `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1)
	doc = strings.Replace(doc, "piena del fiume Esempio</headline>", "piena del fiume Esempio, città allagata</headline>", 1)
	latin1, err := charmap.ISO8859_1.NewEncoder().String(doc)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(strings.NewReader(latin1))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Info[0].Headline; got != "Allerta arancione: piena del fiume Esempio, città allagata" {
		t.Errorf("headline %q", got)
	}
	_, err = Parse(strings.NewReader(strings.Replace(doc, "ISO-8859-1", "EBCDIC-IT", 1)))
	if err == nil || !strings.Contains(err.Error(), `charset "EBCDIC-IT" is not read`) {
		t.Errorf("unknown charset: %v", err)
	}
}

func TestItalianConventions(t *testing.T) {
	for _, tt := range []struct {
		it                         Italian
		severity, urgency, cat, al string
	}{
		{Italian{Giallo, Temporali, Attenzione}, "Moderate", "Future", "Met", "2; yellow; Moderate"},
		{Italian{Arancione, Idraulico, Preallarme}, "Severe", "Expected", "Met", "3; orange; Severe"},
		{Italian{Rosso, Idrogeologico, Allarme}, "Extreme", "Immediate", "Geo", "4; red; Extreme"},
		{Italian{Verde, Ghiaccio, ""}, "Minor", "Unknown", "Met", "1; green; Minor"},
	} {
		in := Info{Urgency: "Unknown"}
		if err := tt.it.Apply(&in); err != nil {
			t.Fatal(err)
		}
		if in.Severity != tt.severity || in.Urgency != tt.urgency || in.Category[0] != tt.cat || in.Parameter[0].Value != tt.al {
			t.Errorf("%+v: %+v", tt.it, in)
		}
		if got := ItalianOf(in); got != tt.it {
			t.Errorf("read back %+v, want %+v", got, tt.it)
		}
	}
	if err := (Italian{Colour: "viola", Risk: Vento}).Apply(&Info{}); err == nil || !strings.Contains(err.Error(), "verde, giallo, arancione or rosso") {
		t.Errorf("unknown colour: %v", err)
	}
	if err := (Italian{Colour: Rosso, Risk: "sismico"}).Apply(&Info{}); err == nil || !strings.Contains(err.Error(), "idraulico") {
		t.Errorf("unknown risk: %v", err)
	}
	a, err := Parse(bytes.NewReader(readExample(t)))
	if err != nil {
		t.Fatal(err)
	}
	if got := ItalianOf(a.Info[0]); got != (Italian{Arancione, Idraulico, Preallarme}) {
		t.Errorf("example: %+v", got)
	}
	if Arancione.Label("it") != "allerta arancione" || Giallo.Label("it") != "allerta gialla" || Rosso.Label("it") != "allerta rossa" || Rosso.Label("en") != "red alert" || Allarme.Label("en") != "alarm phase" {
		t.Error("labels")
	}
}

func TestContains(t *testing.T) {
	poly, err := ParsePolygon("45.10,11.10 45.10,11.30 45.30,11.30 45.30,11.10 45.10,11.10")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		p    Point
		want bool
	}{{Point{45.2, 11.2}, true}, {Point{45.4, 11.2}, false}, {Point{45.2, 11.05}, false}, {Point{45.29, 11.29}, true}} {
		if got := Contains(poly, tt.p); got != tt.want {
			t.Errorf("Contains(%v) = %v", tt.p, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(readExample(f))
	f.Add([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>a</identifier></alert>`))
	f.Add([]byte(`<!DOCTYPE a><alert/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		// What parses is valid, and writes and reads back the same.
		out, err := Marshal(a)
		if err != nil {
			t.Fatalf("a parsed alert does not marshal: %v", err)
		}
		if _, err := Parse(bytes.NewReader(out)); err != nil {
			t.Fatalf("a marshalled alert does not parse: %v\n%s", err, out)
		}
	})
}

// TestStandardExamples: the four examples of the CAP 1.2 standard
// (Appendix A) parse, and writing each one and reading it back gives the
// same alert.
func TestStandardExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/oasis/*.xml")
	if err != nil || len(files) != 4 {
		t.Fatalf("examples %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Parse(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			out, err := Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("re-serialised example does not parse: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(normalTimes(a), normalTimes(back)) {
				t.Errorf("round trip changed the alert:\n%+v\n%+v", a, back)
			}
			if !a.Sent.Equal(back.Sent.Time) || a.Identifier == "" || len(a.Info) == 0 {
				t.Errorf("sent %v / %v, identifier %q", a.Sent, back.Sent, a.Identifier)
			}
		})
	}
}

// normalTimes puts every time of a in UTC, so that equal instants
// compare equal whatever zone they were read in.
func normalTimes(a *Alert) *Alert {
	c := *a
	c.Sent = Time{c.Sent.UTC()}
	c.Info = append([]Info(nil), a.Info...)
	for i := range c.Info {
		for _, p := range []**Time{&c.Info[i].Effective, &c.Info[i].Onset, &c.Info[i].Expires} {
			if *p != nil {
				*p = &Time{(*p).UTC()}
			}
		}
	}
	return &c
}
