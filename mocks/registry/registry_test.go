package registry

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func start(*Env, []string) (*Running, error) { return &Running{}, nil }

func TestKindsOrderAndNeeds(t *testing.T) {
	Register(Kind{Name: "b", Order: 1, Needs: []string{"c"}, Ports: []Port{{Flag: "b-port"}}, Start: start})
	Register(Kind{Name: "a", Order: 1, Ports: []Port{{Flag: "a-port"}}, Start: start})
	Register(Kind{Name: "c", Order: 5, Ports: []Port{{Flag: "c-port"}}, Start: start})
	Register(Kind{Name: "d", Order: 0, Ports: []Port{{Flag: "d-port"}}, Start: start})
	ks, err := Kinds()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range ks {
		names = append(names, k.Name)
	}
	// By Order then name, but b waits for c.
	if want := []string{"d", "a", "c", "b"}; !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	for _, bad := range []Kind{
		{Name: "a", Ports: []Port{{Flag: "other"}}, Start: start},  // same name
		{Name: "e", Ports: []Port{{Flag: "a-port"}}, Start: start}, // same flag
		{Name: "f", Start: start},                                  // no port
		{Name: "g", Ports: []Port{{Flag: "g-port"}}},               // no Start
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%+v) did not panic", bad)
				}
			}()
			Register(bad)
		}()
	}
}

func TestConfig(t *testing.T) {
	type opts struct{ N int }
	env := NewEnv(map[string]any{"x": opts{N: 3}, "y": "wrong"}, nil)
	if o, err := Config[opts](env, "x"); err != nil || o.N != 3 {
		t.Errorf("x: %+v %v", o, err)
	}
	if o, err := Config[opts](env, "absent"); err != nil || o != (opts{}) {
		t.Errorf("absent: %+v %v", o, err)
	}
	if _, err := Config[opts](env, "y"); err == nil || !strings.Contains(err.Error(), "string") {
		t.Errorf("wrong type: %v", err)
	}
	if env.Logger == nil {
		t.Error("nil logger")
	}
}

func TestServeHTTP(t *testing.T) {
	url, stop, err := ServeHTTP("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if _, err := io.WriteString(w, "hello"); err != nil {
			t.Error(err)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "hello" {
		t.Fatalf("%q %v", b, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("served after stop")
	}
}
