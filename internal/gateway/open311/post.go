package open311

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// Limits of the fields of POST requests that the spec leaves open.
const (
	maxField     = 16 << 10 // one form value
	maxFields    = 200      // form values in one request
	maxShortText = 200      // names, phone, ids, address_id, zipcode
	maxAddress   = 500
	maxURL       = 2000
	maxString    = 1000 // a "string" attribute; "text" ones take MaxDescription
)

// form is a parsed POST requests: its values and the photo, if uploaded.
type form struct {
	values url.Values
	media  []byte // the "media" part, at most limit+1 bytes
}

// readForm reads the body: application/x-www-form-urlencoded, as the spec
// says, or multipart/form-data with the photo in a part named "media" (the
// media upload most implementations settled on, see
// http://wiki.open311.org/GeoReport_v2/Extensions). Parts are read with
// limits, never spooled to disk.
func readForm(r *http.Request, photoMax int64) (*form, *problem) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		ct = ""
	}
	switch ct {
	case "application/x-www-form-urlencoded":
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFields*maxField+1))
		if err != nil {
			return nil, tooLarge(err, &problem{http.StatusBadRequest, "", "corpo della richiesta illeggibile", "unreadable request body"})
		}
		if len(body) > maxFields*maxField {
			return nil, &problem{http.StatusRequestEntityTooLarge, "", "richiesta troppo grande", "request too large"}
		}
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, &problem{http.StatusBadRequest, "", "modulo non valido: " + err.Error(), "invalid form: " + err.Error()}
		}
		return &form{values: v}, nil
	case "multipart/form-data":
		mr := multipart.NewReader(r.Body, params["boundary"])
		f := &form{values: url.Values{}}
		n := 0
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return f, nil
			}
			if err != nil {
				return nil, tooLarge(err, &problem{http.StatusBadRequest, "", "modulo multipart non valido", "invalid multipart form"})
			}
			if n++; n > maxFields {
				return nil, &problem{http.StatusRequestEntityTooLarge, "", "troppi campi", "too many fields"}
			}
			name := part.FormName()
			if name == "media" {
				if f.media != nil {
					return nil, &problem{http.StatusBadRequest, "media", "una sola foto per segnalazione", "one photo per report"}
				}
				data, err := io.ReadAll(io.LimitReader(part, photoMax+1))
				if err != nil {
					return nil, tooLarge(err, &problem{http.StatusBadRequest, "media", "foto illeggibile", "unreadable photo"})
				}
				if int64(len(data)) > photoMax {
					return nil, &problem{http.StatusRequestEntityTooLarge, "media",
						fmt.Sprintf("foto troppo grande: al massimo %d byte", photoMax), fmt.Sprintf("photo too large: at most %d bytes", photoMax)}
				}
				f.media = data
				continue
			}
			data, err := io.ReadAll(io.LimitReader(part, maxField+1))
			if err != nil {
				return nil, tooLarge(err, &problem{http.StatusBadRequest, name, "campo illeggibile", "unreadable field"})
			}
			if len(data) > maxField {
				return nil, &problem{http.StatusRequestEntityTooLarge, name, "campo troppo lungo", "field too long"}
			}
			f.values.Add(name, string(data))
		}
	}
	return nil, &problem{http.StatusUnsupportedMediaType, "", "usare application/x-www-form-urlencoded o multipart/form-data",
		"use application/x-www-form-urlencoded or multipart/form-data"}
}

// tooLarge turns a read that hit the body limit (http.MaxBytesReader)
// into 413, any other failure into p.
func tooLarge(err error, p *problem) *problem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &problem{http.StatusRequestEntityTooLarge, p.field, "richiesta troppo grande", "request too large"}
	}
	return p
}

// handlePost serves POST requests.{format}. Every check runs before
// anything is stored, and the report and its photo are stored in one
// transaction: a malformed report is refused whole, with every problem
// found, never half stored.
func (s *site) handlePost(w http.ResponseWriter, r *http.Request) {
	name, format := splitFormat(r.PathValue("file"))
	if name != "requests" || format == "" {
		writeErrors(w, cmpFormat(format), notFound("", "risorsa sconosciuta", "unknown resource"))
		return
	}
	photoMax := s.cfg.PhotoBytes()
	r.Body = http.MaxBytesReader(w, r.Body, photoMax+maxFields*maxField)
	f, p := readForm(r, photoMax)
	if p != nil {
		writeErrors(w, format, *p)
		return
	}
	v := f.values
	// api_key first: without a valid one nothing else is looked at (spec:
	// 403 for an invalid api_key).
	client, ok := s.client(v.Get("api_key"))
	if v.Get("api_key") == "" || !ok {
		writeErrors(w, format, problem{http.StatusForbidden, "api_key", "chiave API mancante o non valida", "api_key missing or not valid"})
		return
	}
	rep, media, probs := s.check(r, v, f.media)
	rep.Client = client
	if len(probs) > 0 {
		writeErrors(w, format, probs...)
		return
	}
	if err := s.opts.Store.Create(r.Context(), rep, media); err != nil {
		s.internal(w, format, err)
		return
	}
	if s.opts.OnReceived != nil {
		if err := s.opts.OnReceived(r.Context(), rep); err != nil {
			s.opts.Logger.Error("open311: report stored, but its hook failed", "tenant", s.t.ID, "id", rep.ID, "err", err)
		}
	}
	out := []created{{ServiceRequestID: rep.ID, Token: rep.Token, ServiceNotice: rep.ServiceNotice, AccountID: rep.Reporter.AccountID}}
	write(w, format, http.StatusCreated, out, createdXML{Requests: out})
}

func cmpFormat(f string) string {
	if f == "" {
		return "json"
	}
	return f
}

// check validates a POST requests form against the spec and the tenant's
// taxonomy and builds the report; probs lists every problem found.
func (s *site) check(r *http.Request, v url.Values, photo []byte) (*reports.Report, *reports.Media, []problem) {
	var probs []problem
	add := func(p problem) { probs = append(probs, p) }
	rep := &reports.Report{Tenant: s.t.ID, Attributes: map[string][]string{}}
	l := lang(r)

	// service_code: required, one of the taxonomy.
	code := v.Get("service_code")
	sv, known := s.cfg.Service(code)
	switch {
	case code == "":
		add(bad("service_code", "obbligatorio", "required"))
	case !known:
		add(bad("service_code", "categoria "+strconv.Quote(code)+" sconosciuta (vedi services)", "unknown service_code "+strconv.Quote(code)+" (see services)"))
	default:
		rep.ServiceCode, rep.ServiceName = sv.Code, sv.Name.In(l)
	}

	// Location: lat and long together, or address_string, or address_id
	// (spec: lat/long "required if no address_string or address_id").
	latS, lonS := v.Get("lat"), v.Get("long")
	switch {
	case latS != "" || lonS != "":
		lat, err1 := strconv.ParseFloat(latS, 64)
		lon, err2 := strconv.ParseFloat(lonS, 64)
		okLat := err1 == nil && !math.IsNaN(lat) && lat >= -90 && lat <= 90
		okLon := err2 == nil && !math.IsNaN(lon) && lon >= -180 && lon <= 180
		if !okLat {
			add(bad("lat", "serve una latitudine WGS 84 tra -90 e 90", "a WGS 84 latitude between -90 and 90 is needed"))
		}
		if !okLon {
			add(bad("long", "serve una longitudine WGS 84 tra -180 e 180", "a WGS 84 longitude between -180 and 180 is needed"))
		}
		if okLat && okLon {
			if a := s.cfg.Area; a != nil && !a.Contains(lat, lon) {
				add(bad("lat", fmt.Sprintf("il punto %.5f,%.5f è fuori dal territorio di %s", lat, lon, s.t.Name.IT),
					fmt.Sprintf("the point %.5f,%.5f is outside %s", lat, lon, s.t.Name.In("en"))))
			}
			rep.HasLocation, rep.Lat, rep.Long = true, lat, lon
		}
	case v.Get("address_string") == "" && v.Get("address_id") == "":
		add(bad("lat", "indicare lat e long, oppure address_string o address_id", "give lat and long, or address_string or address_id"))
	}
	rep.Address = text(v, "address_string", maxAddress, add)
	rep.AddressID = text(v, "address_id", maxShortText, add)
	rep.Zipcode = text(v, "zipcode", maxShortText, add)

	// description: free text up to the tenant's limit (spec: 4000).
	rep.Description = text(v, "description", s.cfg.MaxDescription(), add)

	// media_url: a public http(s) URL (spec); or an uploaded photo.
	if mu := v.Get("media_url"); mu != "" {
		u, err := url.Parse(mu)
		switch {
		case len(mu) > maxURL || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil:
			add(bad("media_url", "serve un indirizzo http o https", "an http or https URL is needed"))
		case photo != nil:
			add(bad("media_url", "inviare media_url oppure la foto (media), non entrambi", "send media_url or the photo (media), not both"))
		default:
			rep.MediaURL = mu
		}
	}
	var media *reports.Media
	if photo != nil {
		m, p := s.cleanPhoto(photo)
		if p != nil {
			add(*p)
		}
		media = m
	}

	// The reporter: the citizen logged in with SPID, or someone who left
	// a contact.
	p := &rep.Reporter
	p.FirstName = text(v, "first_name", maxShortText, add)
	p.LastName = text(v, "last_name", maxShortText, add)
	p.Email = text(v, "email", maxShortText, add)
	p.Phone = text(v, "phone", maxShortText, add)
	p.DeviceID = text(v, "device_id", maxShortText, add)
	p.AccountID = text(v, "account_id", maxShortText, add)
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email {
			add(bad("email", "indirizzo e-mail non valido", "not a valid e-mail address"))
		}
	}
	if p.Phone != "" && strings.Trim(p.Phone, "+0123456789 ./-()") != "" {
		add(bad("phone", "numero di telefono non valido", "not a valid phone number"))
	}
	if s.citizen != nil {
		if c, err := s.citizen(r); err == nil && c != nil {
			p.FiscalCode, p.FirstName, p.LastName = c.FiscalNumber, c.Name, c.FamilyName
		}
	}
	if p.FiscalCode == "" && p.Email == "" && p.Phone == "" {
		add(bad("email", "per una segnalazione senza SPID indicare un'e-mail o un telefono per gli aggiornamenti",
			"a report without SPID login needs an e-mail address or a phone number for updates"))
	}

	// attribute[code] (attribute[code][] for a multivaluelist), per the
	// category's service definition.
	if known {
		s.checkAttributes(v, sv, rep, add)
	}
	now := s.opts.Now()
	rep.Requested, rep.Updated = now, now
	rep.AgencyResponsible = s.t.Name.In(l)
	if s.cfg.Agency != nil {
		rep.AgencyResponsible = s.cfg.Agency.In(l)
	}
	return rep, media, probs
}

// text reads field name: valid UTF-8, at most max characters.
func text(v url.Values, name string, max int, add func(problem)) string {
	s := strings.TrimSpace(v.Get(name))
	switch {
	case !utf8.ValidString(s):
		add(bad(name, "testo non in UTF-8", "text is not UTF-8"))
		return ""
	case utf8.RuneCountInString(s) > max:
		add(bad(name, fmt.Sprintf("al massimo %d caratteri", max), fmt.Sprintf("at most %d characters", max)))
		return ""
	}
	return s
}

func (s *site) checkAttributes(v url.Values, sv tenant.ReportService, rep *reports.Report, add func(problem)) {
	defs := map[string]tenant.ReportAttribute{}
	for _, a := range sv.Attributes {
		defs[a.Code] = a
	}
	for k := range v {
		if !strings.HasPrefix(k, "attribute[") {
			continue
		}
		code := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(k, "attribute["), "[]"), "]")
		if a, ok := defs[code]; !ok || !a.IsVariable() {
			add(bad(k, "domanda sconosciuta per "+sv.Code, "unknown attribute for "+sv.Code))
		}
	}
	for _, a := range sv.Attributes {
		if !a.IsVariable() {
			continue
		}
		field := "attribute[" + a.Code + "]"
		vals := append(slices.Clone(v[field]), v[field+"[]"]...)
		vals = slices.DeleteFunc(vals, func(x string) bool { return strings.TrimSpace(x) == "" })
		if len(vals) == 0 {
			if a.Required {
				add(bad(field, "obbligatorio: "+a.Description.IT, "required: "+a.Description.In("en")))
			}
			continue
		}
		if a.Datatype != "multivaluelist" && len(vals) > 1 {
			add(bad(field, "un solo valore", "one value only"))
			continue
		}
		okAll := true
		for _, x := range vals {
			if p := checkValue(a, x); p != nil {
				p.field = field
				add(*p)
				okAll = false
			}
		}
		if okAll {
			rep.Attributes[a.Code] = vals
		}
	}
}

// checkValue checks one value against the attribute's datatype.
func checkValue(a tenant.ReportAttribute, x string) *problem {
	switch a.Datatype {
	case "number":
		if f, err := strconv.ParseFloat(x, 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return &problem{http.StatusBadRequest, "", "serve un numero", "a number is needed"}
		}
	case "datetime":
		if _, err := time.Parse(time.RFC3339, x); err != nil {
			return &problem{http.StatusBadRequest, "", "serve una data ISO 8601 con fuso", "an ISO 8601 datetime with time zone is needed"}
		}
	case "singlevaluelist", "multivaluelist":
		if !slices.ContainsFunc(a.Values, func(v tenant.ReportValue) bool { return v.Key == x }) {
			keys := make([]string, len(a.Values))
			for i, v := range a.Values {
				keys[i] = v.Key
			}
			k := strings.Join(keys, ", ")
			return &problem{http.StatusBadRequest, "", "valore " + strconv.Quote(x) + " non previsto (" + k + ")", "value " + strconv.Quote(x) + " not allowed (" + k + ")"}
		}
	case "text", "string":
		max := maxString
		if a.Datatype == "text" {
			max = tenant.DefaultDescriptionMax
		}
		if !utf8.ValidString(x) || utf8.RuneCountInString(x) > max {
			return &problem{http.StatusBadRequest, "", fmt.Sprintf("testo UTF-8 di al massimo %d caratteri", max), fmt.Sprintf("UTF-8 text of at most %d characters", max)}
		}
	}
	return nil
}

// cleanPhoto checks an uploaded photo and re-encodes it: the type is
// sniffed from the content (JPEG or PNG only, whatever the client says),
// the size in pixels is checked before decoding, and the image is encoded
// again with the standard library, which writes pixels only — EXIF (GPS
// position, device, time), XMP and comments are left behind.
func (s *site) cleanPhoto(data []byte) (*reports.Media, *problem) {
	ct := http.DetectContentType(data)
	if ct != "image/jpeg" && ct != "image/png" {
		return nil, &problem{http.StatusUnsupportedMediaType, "media", "la foto deve essere JPEG o PNG, non " + ct, "the photo must be JPEG or PNG, not " + ct}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, &problem{http.StatusBadRequest, "media", "immagine illeggibile", "unreadable image"}
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > s.cfg.PhotoPixels() || px == 0 {
		return nil, &problem{http.StatusRequestEntityTooLarge, "media", fmt.Sprintf("immagine di %dx%d pixel: troppo grande", cfg.Width, cfg.Height),
			fmt.Sprintf("image of %dx%d pixels: too large", cfg.Width, cfg.Height)}
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, &problem{http.StatusBadRequest, "media", "immagine illeggibile", "unreadable image"}
	}
	var b bytes.Buffer
	if ct == "image/png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		return nil, &problem{http.StatusBadRequest, "media", "immagine non convertibile", "image cannot be converted"}
	}
	return &reports.Media{ContentType: ct, Width: cfg.Width, Height: cfg.Height, Data: b.Bytes()}, nil
}
