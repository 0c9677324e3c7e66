package reports

import (
	"context"

	"github.com/ponte-pa/ponte/connectors/registry"
)

// CRM is the comune's ticketing or CRM system a report is routed to: a
// connector kind registered in CRMs and configured per tenant and category
// (reports.routes in the tenant config). Errors are classified with package
// connectors/failure (retryable, permanent, ambiguous).
type CRM interface {
	// Kind is the connector kind, e.g. "rest", "open311".
	Kind() string
	// Forward files the report and returns the CRM's ticket id. It is
	// called again with the same report after a retry: a CRM that can
	// take a client reference (r.ID) must be given it, so that the
	// ticket is not filed twice.
	Forward(ctx context.Context, r *Report) (ticket string, err error)
	// Status reads the ticket's state, mapped to a lifecycle State, with
	// the CRM's note for the citizen (empty when none).
	Status(ctx context.Context, ticket string) (state State, note string, err error)
}

// CRMs are the registered CRM connector kinds.
var CRMs = registry.New[CRM]("crm")
