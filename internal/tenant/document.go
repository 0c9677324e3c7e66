package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ponte-pa/ponte/schemas"
)

// Document is a file an operator writes besides a tenant config (a
// campaign or alert definition), decoded and validated against its schema.
type Document struct {
	File  string
	Lines map[string]int // line of each JSON pointer (YAML files)
}

// Error is a ConfigError naming the file and the line of the problem's
// pointer.
func (d *Document) Error(p ...Problem) error {
	for i := range p {
		if p[i].Line == 0 {
			p[i].Line = schemas.LineOf(d.Lines, p[i].Pointer)
		}
	}
	return &ConfigError{File: d.File, Problems: p}
}

// ReadDocument reads path (at most maxSize bytes) and decodes it with
// DecodeDocument.
func ReadDocument(path, schema string, maxSize int64, v any) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.TrimSuffix(schema, ".schema.json"), err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return DecodeDocument(path, data, schema, maxSize, v)
}

// DecodeDocument decodes data (YAML or JSON, by path's extension),
// validates it against schema and unmarshals it into v. Every problem is
// reported at once in a *ConfigError naming the file, line, JSON pointer,
// rule and what to do.
func DecodeDocument(path string, data []byte, schema string, maxSize int64, v any) (*Document, error) {
	d := &Document{File: path}
	if int64(len(data)) > maxSize {
		return d, d.Error(Problem{Rule: "size", Message: fmt.Sprintf("file is larger than %d bytes", maxSize), Hint: "a definition is a few lines"})
	}
	var err error
	var doc any
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		doc, d.Lines, err = schemas.DecodeYAML(data)
	case ".json":
		doc, err = schemas.DecodeJSON(data)
	default:
		return d, d.Error(Problem{Rule: "extension", Message: "unknown file type", Hint: "name the file .yaml, .yml or .json"})
	}
	if err != nil {
		return d, d.Error(Problem{Rule: "syntax", Message: err.Error(), Hint: "fix the YAML/JSON syntax"})
	}
	if err := schemas.Validate(schema, doc); err != nil {
		var ve *schemas.ValidationError
		if !errors.As(err, &ve) {
			return d, err
		}
		var probs []Problem
		for _, p := range ve.Problems {
			probs = append(probs, Problem{Pointer: p.Pointer, Rule: p.Rule, Message: p.Message, Hint: p.Hint})
		}
		return d, d.Error(probs...)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return d, d.Error(Problem{Rule: "type", Message: err.Error()})
	}
	return d, nil
}
