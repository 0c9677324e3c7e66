// Package e2e holds Ponte's end-to-end tests: real workflows on the embedded
// Temporal server against the mock servers, including a kill-and-restart of a
// `ponte serve --dev` process.
package e2e

import "github.com/ponte-pa/ponte/internal/fixtures"

func writeDebtorsCSV(path string, n, broken int, seed uint64) ([]string, error) {
	return fixtures.WriteDebtorsCSV(path, n, broken, seed)
}
