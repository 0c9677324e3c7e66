package e2e

import (
	"fmt"
	"os"
	"testing"
)

// TestMain removes the binary ponteBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		if err := os.RemoveAll(binary.dir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: removing the test binary:", err)
		}
	}
	os.Exit(code)
}
