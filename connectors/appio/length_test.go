package appio

import (
	"strings"
	"testing"
)

// App IO counts lengths as JavaScript does, in UTF-16 code units: an emoji
// is 2. A subject the client lets through must be one App IO accepts.
func TestLengthsAreUTF16CodeUnits(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		ok      bool
	}{
		{"120 ASCII characters", strings.Repeat("a", 120), true},
		{"119 characters and an emoji: 121 units", strings.Repeat("a", 119) + "😀", false},
		{"118 characters and an emoji: 120 units", strings.Repeat("a", 118) + "😀", true},
		{"accented letters count 1", strings.Repeat("è", 120), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMessage()
			m.Content.Subject = tt.subject
			err := m.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
