package mockset

// The kinds of mock the set starts: each registers itself in its package's
// init (mocks/registry). A new kind of mock is one more import here.
import (
	_ "github.com/ponte-pa/ponte/mocks/appio"
	_ "github.com/ponte-pa/ponte/mocks/capfeed"
	_ "github.com/ponte-pa/ponte/mocks/crm"
	_ "github.com/ponte-pa/ponte/mocks/gpd"
	_ "github.com/ponte-pa/ponte/mocks/legacy"
	_ "github.com/ponte-pa/ponte/mocks/nodo"
	_ "github.com/ponte-pa/ponte/mocks/open311"
	_ "github.com/ponte-pa/ponte/mocks/sms"
	_ "github.com/ponte-pa/ponte/mocks/smtp"
	_ "github.com/ponte-pa/ponte/mocks/spididp"
	_ "github.com/ponte-pa/ponte/mocks/webhook"
)
