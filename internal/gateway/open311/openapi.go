package open311

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

// openapiJSON describes the API in OpenAPI 3.0, for client developers; it
// is served at openapi.json with the tenant's URL as its server.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *site) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	var doc map[string]any
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		s.internal(w, "json", err)
		return
	}
	doc["servers"] = []map[string]string{{"url": s.public, "description": s.t.Name.IT}}
	if info, ok := doc["info"].(map[string]any); ok {
		info["title"] = "Open311 GeoReport v2 — " + s.t.Name.IT
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	write(w, "json", http.StatusOK, doc, nil)
}
