package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Secret is a reference to a secret value: "env:NAME" (an environment variable) or
// "file:path" (a file, relative to the config file's directory). The value is read only
// by Resolve; String, MarshalJSON, GoString and LogValue print the reference, never the
// value, so a Secret is safe to log.
type Secret struct {
	Ref     string
	baseDir string
}

// NewSecret makes a Secret; relative file: paths resolve against baseDir.
func NewSecret(ref, baseDir string) Secret { return Secret{Ref: ref, baseDir: baseDir} }

// SecretError says which reference could not be resolved and why; it never holds the value.
type SecretError struct {
	Ref    string
	Reason string
	Err    error
}

func (e *SecretError) Error() string {
	s := "secret " + e.Ref + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *SecretError) Unwrap() error { return e.Err }

// ErrSecretEmpty is wrapped by SecretError when the variable or file is empty or unset.
var ErrSecretEmpty = errors.New("secret is empty or unset")

// maxSecretFile bounds what Resolve reads from a file: keys are small, a huge file is a mistake.
const maxSecretFile = 64 << 10

// Resolve reads the secret value. env:NAME fails when the variable is unset or empty;
// file:path fails when the file cannot be read or is empty. Surrounding whitespace
// (such as a trailing newline) is trimmed.
func (s Secret) Resolve() (string, error) {
	switch {
	case strings.HasPrefix(s.Ref, "env:"):
		name := strings.TrimPrefix(s.Ref, "env:")
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			return "", &SecretError{Ref: s.Ref, Reason: "environment variable " + name + " is unset or empty", Err: ErrSecretEmpty}
		}
		return v, nil
	case strings.HasPrefix(s.Ref, "file:"):
		p := s.Path()
		f, err := os.Open(p)
		if err != nil {
			return "", &SecretError{Ref: s.Ref, Reason: "cannot read file " + p, Err: err}
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		if err != nil {
			return "", &SecretError{Ref: s.Ref, Reason: "cannot read file " + p, Err: err}
		}
		if len(b) > maxSecretFile {
			return "", &SecretError{Ref: s.Ref, Reason: fmt.Sprintf("file %s is larger than %d bytes", p, maxSecretFile)}
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", &SecretError{Ref: s.Ref, Reason: "file " + p + " is empty", Err: ErrSecretEmpty}
		}
		return v, nil
	case s.Ref == "":
		return "", &SecretError{Ref: "(none)", Reason: "no secret reference configured", Err: ErrSecretEmpty}
	default:
		return "", &SecretError{Ref: s.Ref, Reason: "reference must start with env: or file:"}
	}
}

// Path is the resolved file path of a file: reference, or "" for other references.
func (s Secret) Path() string {
	p, ok := strings.CutPrefix(s.Ref, "file:")
	if !ok {
		return ""
	}
	if !filepath.IsAbs(p) && s.baseDir != "" {
		p = filepath.Join(s.baseDir, p)
	}
	return p
}

// String returns the reference.
func (s Secret) String() string { return s.Ref }

// GoString returns the reference, so %#v shows no more than %v.
func (s Secret) GoString() string { return fmt.Sprintf("tenant.Secret(%q)", s.Ref) }

// LogValue logs the reference.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.Ref) }

// MarshalJSON writes the reference.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.Ref) }

// UnmarshalJSON reads a reference string.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var ref string
	if err := json.Unmarshal(b, &ref); err != nil {
		return fmt.Errorf("secret reference must be a string")
	}
	s.Ref = ref
	return nil
}
