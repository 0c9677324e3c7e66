package tenant

import "github.com/ponte-pa/ponte/schemas"

func decodeYAML(data []byte) (any, map[string]int, error) { return schemas.DecodeYAML(data) }

func decodeJSON(b []byte) (any, error) { return schemas.DecodeJSON(b) }
