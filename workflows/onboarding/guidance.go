package onboarding

// guide is what a person needs for one check: the guide's section, who to
// ask, and the next step when the item is missing or failed.
type guide struct {
	anchor          string
	ask             Text
	missing, failed Text
}

var (
	askComune  = Text{IT: "il comune (ufficio tributi / CED)", EN: "the comune (tax office / IT)"}
	askInHouse = Text{IT: "la società in house della regione (chi gestisce Ponte)", EN: "the region's in-house company (who runs Ponte)"}
	askPagoPA  = Text{IT: "PagoPA S.p.A. (Area Riservata / portale sviluppatori)", EN: "PagoPA S.p.A. (Area Riservata / developer portal)"}
	askAgID    = Text{IT: "AgID (registro SPID) e la società in house", EN: "AgID (SPID registry) and the in-house company"}
	askMail    = Text{IT: "il gestore della posta del comune o della regione", EN: "the comune's or region's mail provider"}
	askVendor  = Text{IT: "il comune e il fornitore del gestionale (tributi, anagrafe)", EN: "the comune and its back-office software vendor (tributi, anagrafe)"}
)

var guides = map[string]guide{
	CheckConfig: {anchor: "validate", ask: askInHouse,
		missing: Text{IT: "Generare la configurazione con `ponte onboard import`.", EN: "Generate the config with `ponte onboard import`."},
		failed:  Text{IT: "Correggere i campi indicati (`ponte config validate` mostra riga e regola).", EN: "Fix the fields named (`ponte config validate` shows line and rule)."}},
	CheckSecrets: {anchor: "segreti", ask: askComune,
		missing: Text{IT: "Mettere ogni segreto nel file o nella variabile indicata (una riga, permessi 0600).", EN: "Put each secret in the file or variable named (one line, mode 0600)."},
		failed:  Text{IT: "Correggere il riferimento al segreto (env:NOME o file:percorso).", EN: "Fix the secret reference (env:NAME or file:path)."}},
	CheckSPIDMetadata: {anchor: "spid", ask: askInHouse,
		missing: Text{IT: "Configurare l'SP SPID/CIE: `ponte onboard import --spid-url` per molti comuni insieme, oppure `ponte spid keygen` e spid.spConfig nella configurazione.", EN: "Configure the SPID/CIE SP: `ponte onboard import --spid-url` for many comuni at once, or `ponte spid keygen` and spid.spConfig in the config."},
		failed:  Text{IT: "Rigenerare chiave e certificato con `ponte spid keygen` e correggere sp.yaml secondo le regole indicate; poi rinviare il metadata ad AgID.", EN: "Regenerate key and certificate with `ponte spid keygen` and fix sp.yaml by the rules named; then send the metadata to AgID again."}},
	CheckSPIDIdPs: {anchor: "spid", ask: askAgID,
		missing: Text{IT: "Indicare gli IdP: spid.registry (registro AgID) o spid.idpMetadata.", EN: "Name the IdPs: spid.registry (AgID's registry) or spid.idpMetadata."},
		failed:  Text{IT: "Verificare che il server raggiunga il registro AgID (proxy, firewall) e i certificati di fiducia.", EN: "Check that the server reaches AgID's registry (proxy, firewall) and the trusted certificates."}},
	CheckAppIO: {anchor: "app-io", ask: askPagoPA,
		missing: Text{IT: "Creare i servizi su App IO (back office IO) e indicarne id e chiave in appio.services.", EN: "Create the services on App IO (IO back office) and put their id and key in appio.services."},
		failed:  Text{IT: "Copiare di nuovo la chiave del servizio dal back office IO (chiave primaria o secondaria).", EN: "Copy the service key again from the IO back office (primary or secondary key)."}},
	CheckGPD: {anchor: "pagopa", ask: askPagoPA,
		missing: Text{IT: "Indicare pagopa.gpd.baseURL e la chiave di sottoscrizione GPD.", EN: "Set pagopa.gpd.baseURL and the GPD subscription key."},
		failed:  Text{IT: "Verificare la chiave di sottoscrizione GPD nell'Area Riservata PagoPA e che l'URL sia raggiungibile.", EN: "Check the GPD subscription key in PagoPA's Area Riservata and that the URL is reachable."}},
	CheckEC: {anchor: "serve", ask: askInHouse,
		missing: Text{IT: "Pubblicare il gateway (`ponte serve --http`) e indicarne l'URL pubblico (--public-url o baseURL dell'SP).", EN: "Publish the gateway (`ponte serve --http`) and give its public URL (--public-url or the SP's baseURL)."},
		failed:  Text{IT: "Rendere raggiungibile l'endpoint EC dall'esterno (proxy, certificato, firewall) e comunicarlo a PagoPA per la stazione.", EN: "Make the EC endpoint reachable from outside (proxy, certificate, firewall) and give it to PagoPA for the station."}},
	CheckSources: {anchor: "fonti", ask: askVendor,
		missing: Text{IT: "Configurare almeno una fonte (export CSV o vista SQL del gestionale).", EN: "Configure at least one source (a CSV export or a SQL view of the back office)."},
		failed:  Text{IT: "Mettere l'export al percorso indicato o correggere la connessione; `ponte source check` mostra le righe scartate.", EN: "Put the export at the path named or fix the connection; `ponte source check` shows rejected rows."}},
	CheckSMTP: {anchor: "smtp", ask: askMail,
		missing: Text{IT: "Indicare un relay SMTP (canale email) se si usa l'e-mail come alternativa.", EN: "Give an SMTP relay (email channel) if e-mail is used as the fallback."},
		failed:  Text{IT: "Verificare host, porta, utente e password del relay e il certificato per STARTTLS.", EN: "Check the relay's host, port, user and password and its STARTTLS certificate."}},
}

// Title is the name of a check for people.
var Title = map[string]Text{
	CheckConfig:       {IT: "Configurazione", EN: "Configuration"},
	CheckSecrets:      {IT: "Segreti", EN: "Secrets"},
	CheckSPIDMetadata: {IT: "SPID: chiavi e metadata", EN: "SPID: keys and metadata"},
	CheckSPIDIdPs:     {IT: "SPID: registro e IdP", EN: "SPID: registry and IdPs"},
	CheckAppIO:        {IT: "App IO: chiavi dei servizi", EN: "App IO: service keys"},
	CheckGPD:          {IT: "pagoPA GPD: chiave", EN: "pagoPA GPD: key"},
	CheckEC:           {IT: "pagoPA: endpoint EC", EN: "pagoPA: EC endpoint"},
	CheckSources:      {IT: "Fonti dati", EN: "Data sources"},
	CheckSMTP:         {IT: "Relay SMTP", EN: "SMTP relay"},
}

// item completes an outcome with its guidance.
func item(check string, st Status, detail string) Item {
	g := guides[check]
	it := Item{Check: check, Status: st, Detail: detail, Ask: g.ask, Anchor: g.anchor}
	switch st {
	case Missing:
		it.Next = g.missing
	case Failed:
		it.Next = g.failed
	}
	return it
}
