package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/mocks/mockset"
)

func runMocks(ctx context.Context, args []string) error {
	fs := newFlags("mocks", "mocks [--host 127.0.0.1] [--gpd-port 18081] [--io-port 18082] [--smtp-port 18025] [--nodo-port 18083] [--idp-port 18084] [--cie-port 18086] [--tributi-port 18085]")
	host := fs.String("host", "127.0.0.1", "address to listen on")
	gpdPort := fs.Int("gpd-port", 18081, "port of the pagoPA GPD mock (0 = any)")
	ioPort := fs.Int("io-port", 18082, "port of the App IO mock (0 = any)")
	smtpPort := fs.Int("smtp-port", 18025, "port of the SMTP mock (STARTTLS, AUTH PLAIN with the sample comune's credentials)")
	smtpCA := fs.String("smtp-ca", "smtp-ca.pem", "where to write the SMTP mock's certificate, for a tenant's channels.email.caFile")
	nodoPort := fs.Int("nodo-port", 18083, "port of the Nodo simulator (pays notices like a PSP; 0 = any)")
	idpPort := fs.Int("idp-port", 18084, "port of the mock SPID IdP (0 = any)")
	ciePort := fs.Int("cie-port", 18086, "port of the mock CIE identity provider (0 = any)")
	legacyPort := fs.Int("tributi-port", 18085, "port of the tributi back office mock, REST and SOAP (0 = any)")
	legacyN := fs.Int("tributi-debtors", 20, "how many synthetic debtors the tributi mock serves")
	ioAll := fs.Bool("io-all-known", true, "every valid fiscal code has an App IO profile that accepts messages")
	if err := parse(fs, args); err != nil {
		return err
	}
	set, err := mockset.Start(mockset.Options{Host: *host, GPDPort: *gpdPort, IOPort: *ioPort, IODefaultKnown: *ioAll,
		SMTPPort: *smtpPort, SMTPUser: mockset.SampleSMTPUser, SMTPPassword: mockset.SampleSMTPPassword,
		Logger: newLogger(slog.LevelInfo), NodoPort: *nodoPort, IdPPort: *idpPort, CIEPort: *ciePort, LegacyPort: *legacyPort, LegacyDebtors: fixtures.TributiRecords(fixtures.Debtors(*legacyN, 1))})
	if err != nil {
		return err
	}
	defer set.Close()
	if err := set.WriteSMTPCA(*smtpCA); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pagoPA GPD mock   %s   (inspect: %s/__mock/positions, %s/__mock/stats)\n", set.GPDURL, set.GPDURL, set.GPDURL)
	fmt.Fprintf(stdout, "App IO mock       %s   (inspect: %s/__mock/messages, %s/__mock/stats)\n", set.IOURL, trimAPI(set.IOURL), trimAPI(set.IOURL))
	fmt.Fprintf(stdout, "SMTP mock         %s   (user %s; certificate written to %s)\n", set.SMTPAddr, mockset.SampleSMTPUser, *smtpCA)
	fmt.Fprintf(stdout, "Nodo simulator    %s   (pay: POST %s/__mock/pay; inspect: %s/__mock/payments)\n", set.NodoURL, set.NodoURL, set.NodoURL)
	fmt.Fprintf(stdout, "SPID IdP mock     %s   (metadata: %s/metadata; defects: %s/__mock/defects)\n", set.IdPURL, set.IdPURL, set.IdPURL)
	fmt.Fprintf(stdout, "CIE IdP mock      %s   (metadata: %s/metadata)\n", set.CIEURL, set.CIEURL)
	fmt.Fprintf(stdout, "Tributi mock      %s   (REST: %s/api/page/debitori; SOAP: %s/soap; write-backs: %s/__mock/updates)\n", set.LegacyURL, set.LegacyURL, set.LegacyURL, set.LegacyURL)
	fmt.Fprintln(stdout, "Any non-empty subscription key is accepted. Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

func trimAPI(u string) string {
	const suffix = "/api/v1"
	if len(u) > len(suffix) && u[len(u)-len(suffix):] == suffix {
		return u[:len(u)-len(suffix)]
	}
	return u
}
