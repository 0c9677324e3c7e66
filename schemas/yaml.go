package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodeYAML turns YAML into JSON-compatible values (maps with string keys,
// json.Number), ready for Validate, and returns the line of every key by JSON
// pointer, so that problems can name the line.
func DecodeYAML(data []byte) (any, map[string]int, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, err
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, nil, fmt.Errorf("the file is empty")
	}
	var v any
	if err := root.Decode(&v); err != nil {
		return nil, nil, err
	}
	v, err := jsonCompatible(v)
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("value cannot be represented in JSON: %w", err)
	}
	doc, err := DecodeJSON(b)
	if err != nil {
		return nil, nil, err
	}
	lines := map[string]int{}
	nodeLines(root.Content[0], "", lines, 0)
	return doc, lines, nil
}

func jsonCompatible(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			c, err := jsonCompatible(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			c, err := jsonCompatible(e)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = c
		}
		return m, nil
	case []any:
		for i, e := range x {
			c, err := jsonCompatible(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case []byte:
		return string(x), nil
	}
	return v, nil
}

func nodeLines(n *yaml.Node, ptr string, lines map[string]int, depth int) {
	if depth > 64 {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := lines[ptr]; !ok {
		lines[ptr] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := JoinPointer(ptr, n.Content[i].Value)
			lines[k] = n.Content[i].Line
			nodeLines(n.Content[i+1], k, lines, depth+1)
			lines[k] = n.Content[i].Line
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			nodeLines(c, ptr+"/"+strconv.Itoa(i), lines, depth+1)
		}
	}
}

// DecodeJSON decodes one JSON document with numbers as json.Number, ready for
// Validate.
func DecodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON document")
	}
	return v, nil
}

// LineOf finds the line of a JSON pointer in the lines DecodeYAML returned,
// or of its nearest ancestor; 0 when unknown (JSON input).
func LineOf(lines map[string]int, ptr string) int {
	for {
		if l, ok := lines[ptr]; ok {
			return l
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return 0
		}
		ptr = ptr[:i]
	}
}
