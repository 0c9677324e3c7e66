package schemas_test

// tenant.schema.json refers to the platforms' schemas, which their
// packages register beside their code: link them into this test binary.
import (
	_ "github.com/ponte-pa/ponte/connectors/appio"
	_ "github.com/ponte-pa/ponte/connectors/pagopa"
)
