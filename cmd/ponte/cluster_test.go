package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// testPKI writes a CA certificate and a client certificate and key it
// signed, as PEM files in dir; it returns their paths and the DER of both
// certificates.
func testPKI(t *testing.T, dir string) (caPath, certPath, keyPath string, caDER, certDER []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ponte test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	if caDER, err = x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey); err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ponte-worker"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if certDER, err = x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("client.pem", "CERTIFICATE", certDER), write("client.key", "PRIVATE KEY", keyDER), caDER, certDER
}

// stubDial replaces the dial of the operator commands for one test: it
// records the options and fails, as an unreachable cluster would.
func stubDial(t *testing.T) *[]client.Options {
	t.Helper()
	var got []client.Options
	old := dialClient
	dialClient = func(o client.Options) (client.Client, error) {
		got = append(got, o)
		return nil, errors.New("test: no cluster here")
	}
	t.Cleanup(func() { dialClient = old })
	return &got
}

// TestClusterFlagsReachTheDial: every subcommand that talks to Temporal
// takes the cluster flags of 'ponte worker' and dials with them: address,
// namespace, the CA to verify the cluster, the client certificate for
// mTLS and the server name.
func TestClusterFlagsReachTheDial(t *testing.T) {
	caPath, certPath, keyPath, caDER, certDER := testPKI(t, t.TempDir())
	got := stubDial(t)
	cluster := []string{"--temporal", "temporal.example.internal:7233", "--namespace", "ponte-prod",
		"--tls-ca", caPath, "--tls-cert", certPath, "--tls-key", keyPath, "--tls-server-name", "frontend.temporal.internal"}
	for _, cmd := range [][]string{
		{"campaign", "start", "--tenant", "esempio", "--id", "tari", "--source", "tributi-csv", "--subject", "TARI"},
		{"campaign", "status", "--tenant", "esempio", "tari"},
		{"campaign", "pause", "--tenant", "esempio", "--id", "tari"},
		{"campaign", "resume", "--tenant", "esempio", "--id", "tari"},
		{"campaign", "cancel", "--tenant", "esempio", "--id", "tari", "--wait"},
		{"reconcile", "run", "--tenant", "esempio"},
		{"reconcile", "start", "--tenant", "esempio", "--every", "24h"},
		{"reconcile", "status", "--tenant", "esempio", "--periodic"},
		{"reconcile", "stop", "--tenant", "esempio"},
	} {
		t.Run(strings.Join(cmd[:2], "_"), func(t *testing.T) {
			*got = nil
			var out, errOut bytes.Buffer
			code := run(append(slices.Clone(cmd), cluster...), &out, &errOut)
			if code != exitFail || !strings.Contains(errOut.String(), "test: no cluster here") ||
				!strings.Contains(errOut.String(), "temporal.example.internal:7233 (namespace ponte-prod)") {
				t.Errorf("exit %d, want 1 with the dial's error\n%s%s", code, out.String(), errOut.String())
			}
			if len(*got) != 1 {
				t.Fatalf("dialled %d times, want once", len(*got))
			}
			o := (*got)[0]
			if o.HostPort != "temporal.example.internal:7233" || o.Namespace != "ponte-prod" {
				t.Errorf("dialled %s namespace %s", o.HostPort, o.Namespace)
			}
			tc := o.ConnectionOptions.TLS
			if tc == nil {
				t.Fatal("dialled without TLS")
			}
			ca, err := x509.ParseCertificate(caDER)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			if tc.ServerName != "frontend.temporal.internal" || tc.RootCAs == nil || !tc.RootCAs.Equal(pool) {
				t.Errorf("TLS: server name %q, roots from --tls-ca: %v", tc.ServerName, tc.RootCAs != nil && tc.RootCAs.Equal(pool))
			}
			if len(tc.Certificates) != 1 || !bytes.Equal(tc.Certificates[0].Certificate[0], certDER) {
				t.Errorf("TLS client certificate is not the one of --tls-cert: %d certificates", len(tc.Certificates))
			}
		})
	}

	// Without cluster flags: 'ponte serve --dev' on this machine, plain TCP.
	*got = nil
	var out, errOut bytes.Buffer
	if code := run([]string{"reconcile", "run", "--tenant", "esempio"}, &out, &errOut); code != exitFail || len(*got) != 1 {
		t.Fatalf("exit %d, %d dials\n%s", code, len(*got), errOut.String())
	}
	if o := (*got)[0]; o.HostPort != "127.0.0.1:7233" || o.Namespace != "default" || o.ConnectionOptions.TLS != nil {
		t.Errorf("default dial: %s %s TLS %v", o.HostPort, o.Namespace, o.ConnectionOptions.TLS)
	}
	if !strings.Contains(errOut.String(), "is 'ponte serve --dev' running?") {
		t.Errorf("no hint for the local default:\n%s", errOut.String())
	}
}

// TestBadTLSFlags: a TLS file that cannot be used is a usage error (exit 2)
// naming its flag, on every command that reaches a cluster, before any dial.
func TestBadTLSFlags(t *testing.T) {
	dir := t.TempDir()
	caPath, certPath, keyPath, _, _ := testPKI(t, dir)
	missing := filepath.Join(dir, "missing-ca.pem")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := stubDial(t)
	status := []string{"campaign", "status", "--tenant", "esempio", "--id", "tari"}
	with := func(a []string, b ...string) []string { return append(slices.Clone(a), b...) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{with(status, "--tls-ca", missing), "--tls-ca: open " + missing},
		{with(status, "--tls-ca", notPEM), "--tls-ca: " + notPEM + " holds no PEM certificate"},
		{with(status, "--tls-cert", certPath), "--tls-cert and --tls-key go together"},
		{with(status, "--tls-key", keyPath), "--tls-cert and --tls-key go together"},
		{with(status, "--tls-cert", certPath, "--tls-key", caPath), "--tls-cert/--tls-key: "},
		{[]string{"reconcile", "run", "--tenant", "esempio", "--tls-ca", missing}, "ponte reconcile run: --tls-ca: open"},
		{[]string{"campaign", "start", "--tenant", "esempio", "--id", "x", "--source", "s", "--subject", "S", "--tls-ca", missing}, "--tls-ca"},
		{[]string{"worker", "--temporal", "t:7233", "--tenants", dir, "--tls-ca", missing}, "ponte worker: --tls-ca: open"},
		{[]string{"serve", "--temporal", "t:7233", "--tenants", dir, "--tls-ca", notPEM}, "ponte serve: --tls-ca: "},
		{[]string{"serve", "--dev", "--tenants", dir, "--tls-ca", caPath}, "the --tls-* flags are for a cluster given with --temporal"},
	} {
		t.Run(strings.Join(tc.args[:2], "_"), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("%q: exit %d, want 2 and %q\n%s%s", tc.args, code, tc.want, out.String(), errOut.String())
			}
		})
	}
	if len(*got) != 0 {
		t.Errorf("dialled with bad TLS flags: %+v", *got)
	}
}
