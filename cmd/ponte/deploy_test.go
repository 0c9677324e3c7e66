package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deployed is one ponte invocation written in a deployment file.
type deployed struct {
	where string
	args  []string
}

// TestDeployFilesRunTheBinarysFlags reads every ponte command line in
// deploy/ (the compose file's commands, the Kubernetes containers' args)
// and checks it against the binary's own flag sets: the command exists,
// and every flag it passes is one that command lists in --help. A renamed
// flag cannot leave the deployment files behind.
func TestDeployFilesRunTheBinarysFlags(t *testing.T) {
	var all []deployed

	var compose struct {
		Services map[string]struct {
			Build   any      `yaml:"build"`
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	b, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	for name, s := range compose.Services {
		if s.Build != nil { // built from deploy/Dockerfile: the ponte image
			all = append(all, deployed{"deploy/compose.yaml: service " + name, s.Command})
		}
	}

	k8s, err := os.ReadFile("../../deploy/k8s/ponte.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(k8s))
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct{ Name string }
			Spec     struct {
				Template struct {
					Spec struct {
						SecurityContext map[string]any `yaml:"securityContext"`
						Containers      []struct {
							Name            string
							Image           string
							Args            []string
							SecurityContext map[string]any `yaml:"securityContext"`
						}
					}
				}
			}
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("deploy/k8s/ponte.yaml: %v", err)
		}
		for _, c := range doc.Spec.Template.Spec.Containers {
			if !strings.Contains(c.Image, "ponte") {
				continue
			}
			where := "deploy/k8s/ponte.yaml: " + doc.Kind + " " + doc.Metadata.Name
			all = append(all, deployed{where, c.Args})
			// The image runs as non-root on a read-only root filesystem.
			pod, sc := doc.Spec.Template.Spec.SecurityContext, c.SecurityContext
			if pod["runAsNonRoot"] != true || sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false {
				t.Errorf("%s: want runAsNonRoot (pod), readOnlyRootFilesystem and no privilege escalation (container); got %v, %v", where, pod, sc)
			}
		}
	}
	if len(all) < 4 {
		t.Fatalf("found %d ponte command lines in deploy/, want the worker and gateway of both files", len(all))
	}

	listed := regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`)
	for _, d := range all {
		var path []string
		for _, a := range d.args {
			if strings.HasPrefix(a, "-") {
				break
			}
			path = append(path, a)
		}
		c := findCommand(strings.Join(path, " "))
		if c == nil || c.subs != nil {
			t.Errorf("%s: ponte %s is not a command", d.where, strings.Join(path, " "))
			continue
		}
		var out, errOut bytes.Buffer
		if code := run(append(slices.Clone(path), "--help"), &out, &errOut); code != exitOK {
			t.Fatalf("%s: --help: exit %d\n%s", d.where, code, errOut.String())
		}
		var flags []string
		for _, m := range listed.FindAllStringSubmatch(out.String(), -1) {
			flags = append(flags, m[1])
		}
		for _, a := range d.args[len(path):] {
			if !strings.HasPrefix(a, "--") {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !slices.Contains(flags, name) {
				t.Errorf("%s: ponte %s has no flag --%s (it has %v)", d.where, c.path, name, flags)
			}
		}
	}
}
