package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ponte-pa/ponte/connectors/spid"
)

func TestSPIDCommand(t *testing.T) {
	var out bytes.Buffer
	old := stdout
	stdout = &out
	t.Cleanup(func() { stdout = old })
	ctx := context.Background()
	dir := t.TempDir()

	if err := runSPID(ctx, nil); err == nil {
		t.Fatal("no subcommand accepted")
	}
	err := runSPID(ctx, []string{"keygen", "--cn", "Comune di Esempio"})
	var ue usageError
	if err == nil || !strings.Contains(err.Error(), "--entity-id") || !asUsage(err, &ue) {
		t.Fatalf("missing flags: %v", err)
	}
	args := []string{"keygen", "--ipa", "c_x000", "--cn", "Comune di Esempio", "--locality", "Roma",
		"--entity-id", "https://comune.example.it/spid/metadata", "--out", dir, "--bits", "2048"}
	if err := runSPID(ctx, args); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "PA:IT-c_x000") && !strings.Contains(out.String(), "2.5.4.97") {
		t.Errorf("summary: %s", out.String())
	}
	if st, _ := os.Stat(filepath.Join(dir, "sp.key.pem")); st == nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st)
	}
	if err := runSPID(ctx, args); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrite: %v", err)
	}
	out.Reset()
	if err := runSPID(ctx, []string{"check-cert", filepath.Join(dir, "sp.cert.pem")}); err != nil || !strings.HasPrefix(out.String(), "OK") {
		t.Fatalf("check-cert: %v %s", err, out.String())
	}
	cfg := `baseURL: https://comune.example.it
keyFile: sp.key.pem
certFile: sp.cert.pem
ipaCode: c_x000
contactEmail: protocollo@comune.example.it
organization:
  names: {it: Comune di Esempio}
  displayNames: {it: Comune di Esempio}
  urls: {it: "https://comune.example.it"}
`
	if err := os.WriteFile(filepath.Join(dir, "sp.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runSPID(ctx, []string{"metadata", "--config", filepath.Join(dir, "sp.yaml")}); err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	kp, err := os.ReadFile(filepath.Join(dir, "sp.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := os.ReadFile(filepath.Join(dir, "sp.cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	_, cert, err := spid.ParseKeyPair(kp, cp)
	if err != nil {
		t.Fatal(err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	if _, err := vc.Validate(doc.Root()); err != nil {
		t.Fatalf("metadata signature: %v", err)
	}
	if doc.Root().FindElement("./ContactPerson/Extensions/IPACode").Text() != "c_x000" {
		t.Fatal("IPACode")
	}
	// CIE metadata needs the cie: section.
	if err := runSPID(ctx, []string{"metadata", "--cie", "--config", filepath.Join(dir, "sp.yaml")}); err == nil || !strings.Contains(err.Error(), "Municipality") {
		t.Fatalf("cie without municipality: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sp.yaml"), []byte(cfg+"cie: {municipality: H501}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runSPID(ctx, []string{"metadata", "--cie", "--config", filepath.Join(dir, "sp.yaml")}); err != nil || !strings.Contains(out.String(), ">H501</cie:Municipality>") {
		t.Fatalf("cie metadata: %v %s", err, out.String())
	}
	if err := runSPID(ctx, []string{"metadata"}); err == nil || !asUsage(err, &ue) {
		t.Fatalf("metadata without config: %v", err)
	}
}

func asUsage(err error, target *usageError) bool {
	u, ok := err.(usageError)
	if ok {
		*target = u
	}
	return ok
}
