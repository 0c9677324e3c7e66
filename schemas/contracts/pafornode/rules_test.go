package pafornode

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/rules.golden.txt")

// dump writes the rule table in a canonical text form, one type per
// block, sorted by name: the same form a short script can write from the
// official XSD files, so that the two can be compared line by line.
func dump() string {
	var b strings.Builder
	names := make([]string, 0, len(simpleTypes))
	for n := range simpleTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		st := simpleTypes[n]
		fmt.Fprintf(&b, "simple %s base=%s", n, st.base)
		switch {
		case st.minLen >= 0 && st.minLen == st.maxLen:
			fmt.Fprintf(&b, " length=%d", st.minLen)
		default:
			if st.minLen >= 0 {
				fmt.Fprintf(&b, " minLength=%d", st.minLen)
			}
			if st.maxLen >= 0 {
				fmt.Fprintf(&b, " maxLength=%d", st.maxLen)
			}
		}
		if st.pattern != "" {
			fmt.Fprintf(&b, " pattern=%s", st.pattern)
		}
		if st.enum != nil {
			fmt.Fprintf(&b, " enum=%s", strings.Join(st.enum, "|"))
		}
		if st.minIncl != "" {
			fmt.Fprintf(&b, " minInclusive=%s", st.minIncl)
		}
		if st.maxIncl != "" {
			fmt.Fprintf(&b, " maxInclusive=%s", st.maxIncl)
		}
		b.WriteString("\n")
	}
	names = names[:0]
	for n := range complexTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts func(indent string, ps []particle)
	parts = func(indent string, ps []particle) {
		for _, p := range ps {
			if p.choice != nil {
				fmt.Fprintf(&b, "%schoice %d..%d\n", indent, p.min, p.max)
				parts(indent+"  ", p.choice)
				continue
			}
			fmt.Fprintf(&b, "%s%s %s %d..%d\n", indent, p.name, p.typ, p.min, p.max)
		}
	}
	for _, n := range names {
		ct := complexTypes[n]
		fmt.Fprintf(&b, "complex %s", n)
		if ct.base != "" {
			fmt.Fprintf(&b, " extends=%s", ct.base)
		}
		b.WriteString("\n")
		parts("  ", ct.seq)
	}
	names = names[:0]
	for n := range elements {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "element %s %s\n", n, elements[n])
	}
	return b.String()
}

// TestRulesGolden keeps the rule table and testdata/rules.golden.txt
// together. The golden file was compared with the dump of the official
// files (pagopa/pagopa-api @070efa90, wsdl/xsd/paForNode.xsd and
// xsd-common/sac-common-types-1.0.xsd) made by a script outside the
// repository, which cannot ship those files; a change to the table must
// be checked against them the same way.
func TestRulesGolden(t *testing.T) {
	got := dump()
	const golden = "testdata/rules.golden.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the rule table differs from %s:\n%s", golden, got)
	}
}

// TestRulesResolve: every type a particle names exists, so no element is
// silently checked as a bare string.
func TestRulesResolve(t *testing.T) {
	builtins := []string{string(xsString), string(xsDecimal), string(xsInt), string(xsBoolean), string(xsDate), string(xsDT), string(xsBase64)}
	var check func(owner string, ps []particle)
	check = func(owner string, ps []particle) {
		for _, p := range ps {
			if p.choice != nil {
				check(owner, p.choice)
				continue
			}
			_, s := simpleTypes[p.typ]
			_, c := complexTypes[p.typ]
			if !s && !c && !slices.Contains(builtins, p.typ) {
				t.Errorf("%s/%s: type %s is not in the table", owner, p.name, p.typ)
			}
		}
	}
	for n, ct := range complexTypes {
		if _, ok := complexTypes[ct.base]; ct.base != "" && !ok {
			t.Errorf("%s extends %s, not in the table", n, ct.base)
		}
		check(n, ct.seq)
	}
	for e, typ := range elements {
		if _, ok := complexTypes[typ]; !ok {
			t.Errorf("element %s: type %s is not in the table", e, typ)
		}
	}
}
