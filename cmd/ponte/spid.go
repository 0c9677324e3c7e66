package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/spid"
)

var spidCommands = []*command{
	{name: "keygen", summary: "generate an RSA key and a self-signed certificate in the SPID SP profile", run: spidKeygen},
	{name: "metadata", summary: "write the signed SP metadata (from --config sp.yaml; --cie for CIE) to stdout", run: spidMetadata},
	{name: "check-cert", summary: "check a PEM certificate against the SPID SP profile", run: spidCheckCert},
}

func spidKeygen(_ context.Context, args []string) error {
	fs := newFlags("spid keygen", "spid keygen --ipa CODE --cn NAME --entity-id URL --locality CITY --out DIR [--org NAME] [--bits 3072] [--days 730]")
	ipa := fs.String("ipa", "", "IPA code of the ente (e.g. c_h501)")
	cn := fs.String("cn", "", "commonName, e.g. \"Comune di Esempio\"")
	org := fs.String("org", "", "organizationName (default: --cn)")
	entityID := fs.String("entity-id", "", "SP entityID (https URL)")
	locality := fs.String("locality", "", "localityName (the comune's town)")
	out := fs.String("out", "", "directory for sp.key.pem and sp.cert.pem")
	bits := fs.Int("bits", 3072, "RSA key size (at least 2048)")
	days := fs.Int("days", 730, "validity in days")
	vat := fs.String("vat", "", "VAT number, for a private SP (instead of --ipa)")
	force := fs.Bool("force", false, "overwrite existing files")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	var missing []string
	for name, v := range map[string]string{"--cn": *cn, "--entity-id": *entityID, "--locality": *locality, "--out": *out} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if *ipa == "" && *vat == "" {
		missing = append(missing, "--ipa (or --vat)")
	}
	if len(missing) > 0 {
		return usagef("spid keygen: missing %s", strings.Join(sortedCopy(missing), ", "))
	}
	if !strings.HasPrefix(*entityID, "https://") {
		return usagef("spid keygen: --entity-id must be an https URL")
	}
	if *bits < 2048 || *days <= 0 {
		return usagef("spid keygen: --bits must be at least 2048 and --days positive")
	}
	if *org == "" {
		*org = *cn
	}
	keyPath, certPath := filepath.Join(*out, "sp.key.pem"), filepath.Join(*out, "sp.cert.pem")
	if !*force {
		for _, p := range []string{keyPath, certPath} {
			if _, err := os.Stat(p); err == nil {
				return usagef("spid keygen: %s exists (use --force to overwrite)", p)
			}
		}
	}
	key, cert, err := spid.GenerateKeyCert(spid.CertOptions{
		CommonName: *cn, OrgName: *org, IPACode: *ipa, VATNumber: *vat, Locality: *locality,
		EntityID: *entityID, Bits: *bits, Validity: time.Duration(*days) * 24 * time.Hour, Public: *vat == "",
	})
	if err != nil {
		return usagef("%v", err)
	}
	if err := spid.CheckCert(cert, time.Now()); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	kp, cp := spid.EncodeKeyPair(key, cert)
	if err := os.WriteFile(keyPath, kp, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(certPath, cp, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (RSA %d, mode 0600) and %s\nsubject: %s\nvalid until: %s\n",
		keyPath, key.N.BitLen(), certPath, cert.Subject.String(), cert.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func spidMetadata(_ context.Context, args []string) error {
	fs := newFlags("spid metadata", "spid metadata --config sp.yaml [--cie]")
	cfgPath := fs.String("config", "", "SP configuration file (YAML)")
	cie := fs.Bool("cie", false, "write the CIE federation metadata (cie: extensions, CIE attributes) instead of SPID")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usagef("spid metadata: --config is required")
	}
	cfg, _, err := spid.LoadConfigFile(*cfgPath)
	if err != nil {
		return usagef("%v", err)
	}
	if err := spid.CheckCert(cfg.Cert, time.Now()); err != nil {
		fmt.Fprintf(os.Stderr, "warning: %v\n", err)
	}
	sign := spid.SignedMetadata
	if *cie {
		sign = spid.SignedCIEMetadata
	}
	b, err := sign(cfg, fmt.Sprintf("_%x", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}

func spidCheckCert(_ context.Context, args []string) error {
	fs := newFlags("spid check-cert", "spid check-cert FILE.pem")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("spid check-cert: one PEM file expected")
	}
	file := pos[0]
	b, err := os.ReadFile(file)
	if err != nil {
		return usagef("%v", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return usagef("%s: not PEM", file)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return usagef("%s: %v", file, err)
	}
	if err := spid.CheckCert(cert, time.Now()); err != nil {
		var ce *spid.CertError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				fmt.Fprintf(stdout, "FAIL %s\n", p)
			}
		}
		return err
	}
	fmt.Fprintf(stdout, "OK %s fits the SPID SP certificate profile\n", file)
	return nil
}
