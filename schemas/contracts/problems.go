package contracts

import (
	"errors"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// Problem is one broken rule of a violation: the field (a parameter or
// header name, or the dotted path of a body value such as
// "content.subject"; "" for the whole body) and why.
type Problem struct {
	Field  string
	Reason string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Reason
	}
	return p.Field + ": " + p.Reason
}

// Problems lists the broken rules of the violation, most specific first
// where they nest (a value inside an object before the object).
func (v *Violation) Problems() []Problem {
	var out []Problem
	collect(v.Err, "", &out)
	if len(out) == 0 && v.Err != nil {
		out = append(out, Problem{Reason: v.Err.Error()})
	}
	return out
}

// collect walks kin-openapi's error tree down to its leaves; field is the
// parameter or header the errors below belong to.
func collect(err error, field string, out *[]Problem) {
	switch e := err.(type) {
	case nil:
	case openapi3.MultiError:
		for _, x := range e {
			collect(x, field, out)
		}
	case *openapi3filter.RequestError:
		if e.Parameter != nil {
			field = e.Parameter.Name
		}
		if e.Err == nil {
			*out = append(*out, Problem{Field: field, Reason: e.Reason})
			return
		}
		collect(e.Err, field, out)
	case *openapi3filter.ResponseError:
		if e.Err == nil {
			*out = append(*out, Problem{Field: field, Reason: e.Reason})
			return
		}
		collect(e.Err, field, out)
	case *openapi3filter.SecurityRequirementsError:
		for _, x := range e.Errors {
			collect(x, field, out)
		}
	case *openapi3.SchemaError:
		var nested *openapi3.SchemaError
		if e.Origin != nil && errors.As(e.Origin, &nested) {
			collect(e.Origin, field, out) // e.g. allOf: the nested errors say it better
			return
		}
		p := Problem{Field: field, Reason: e.Reason}
		if ptr := e.JSONPointer(); len(ptr) > 0 {
			p.Field = strings.Join(ptr, ".")
		}
		*out = append(*out, p)
	default:
		if u := errors.Unwrap(err); u != nil {
			n := len(*out)
			collect(u, field, out)
			if len(*out) > n {
				return
			}
		}
		if !slices.Contains(*out, Problem{Field: field, Reason: err.Error()}) {
			*out = append(*out, Problem{Field: field, Reason: err.Error()})
		}
	}
}
