package contracts

import (
	"errors"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// Problem is one broken rule of a violation: where (In: "path", "query",
// "header" or "body"), the field (a parameter or header name, or the dotted
// path of a body value such as "content.subject"; "" for the whole body)
// and why.
type Problem struct {
	In     string
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
	collect(v.Err, Problem{}, &out)
	if len(out) == 0 && v.Err != nil {
		out = append(out, Problem{Reason: v.Err.Error()})
	}
	return out
}

// collect walks kin-openapi's error tree down to its leaves; at says
// where the errors below belong (In, and Field for a parameter).
func collect(err error, at Problem, out *[]Problem) {
	leaf := func(reason string) {
		p := at
		p.Reason = reason
		if !slices.Contains(*out, p) {
			*out = append(*out, p)
		}
	}
	switch e := err.(type) {
	case nil:
	case openapi3.MultiError:
		for _, x := range e {
			collect(x, at, out)
		}
	case *openapi3filter.RequestError:
		switch {
		case e.Parameter != nil:
			at = Problem{In: e.Parameter.In, Field: e.Parameter.Name}
		case e.RequestBody != nil:
			at = Problem{In: "body"}
		}
		if e.Err == nil {
			leaf(e.Reason)
			return
		}
		collect(e.Err, at, out)
	case *openapi3filter.ResponseError:
		at = Problem{In: "body"}
		if e.Err == nil {
			leaf(e.Reason)
			return
		}
		collect(e.Err, at, out)
	case *openapi3filter.SecurityRequirementsError:
		for _, x := range e.Errors {
			collect(x, Problem{In: "header"}, out)
		}
	case *openapi3.SchemaError:
		var nested *openapi3.SchemaError
		if e.Origin != nil && errors.As(e.Origin, &nested) {
			collect(e.Origin, at, out) // e.g. allOf: the nested errors say it better
			return
		}
		if ptr := e.JSONPointer(); len(ptr) > 0 {
			at.Field = strings.Join(ptr, ".")
		}
		leaf(e.Reason)
	default:
		if u := errors.Unwrap(err); u != nil {
			n := len(*out)
			collect(u, at, out)
			if len(*out) > n {
				return
			}
		}
		leaf(err.Error())
	}
}
