package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// ponteBinary builds the ponte command once for the package's tests that
// run it as its own processes, and returns its path.
func ponteBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "ponte-e2e-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "ponte")
		binary.out, binary.err = exec.Command("go", "build", "-o", binary.path, "../../cmd/ponte").CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("go build: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}
