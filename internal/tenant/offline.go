package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

// CheckOffline finds, without any network, what Load cannot see in the file
// alone and what would otherwise fail only when a campaign starts: secret
// references (env: and file:) that do not resolve, source files that are
// missing or not regular files (an inbox dir that is not a directory), other
// referenced files (keys ending in File), and the own checks of each source
// and people source (date layouts, fixed-width layouts, a SQL query that is
// not a read-only SELECT, a multi-statement DSN). It returns nil or a *ConfigError with the
// file, line, pointer, rule and fix of every problem. Secret values are never
// shown.
func (t *Tenant) CheckOffline() error {
	var probs []Problem
	add := func(ptr, rule, msg, hint string) {
		probs = append(probs, Problem{Pointer: ptr, Rule: rule, Message: msg, Hint: hint, Line: lineOf(t.lines, ptr)})
	}
	walkStrings(t.doc, "", func(ptr, key, v string) {
		switch {
		case strings.HasPrefix(v, "env:") || strings.HasPrefix(v, "file:") && key != "path" && key != "dir":
			if _, err := NewSecret(v, t.Dir).Resolve(); err != nil {
				var se *SecretError
				reason := err.Error()
				if errors.As(err, &se) {
					reason = se.Reason
				}
				hint := "create the file with the secret in it (one line), or fix the path"
				if name, ok := strings.CutPrefix(v, "env:"); ok {
					hint = "export " + name + " in the environment Ponte runs in (systemd EnvironmentFile, container env)"
				}
				add(ptr, "secret", fmt.Sprintf("secret %s does not resolve: %s", v, reason), hint)
			}
		case strings.HasSuffix(key, "File") && v != "":
			p := v
			if !filepath.IsAbs(p) {
				p = filepath.Join(t.Dir, p)
			}
			if fi, err := os.Stat(p); err != nil {
				add(ptr, "file", fmt.Sprintf("%s: %v", p, errors.Unwrap(err)), "create the file or fix the path (relative paths start at the config file's folder)")
			} else if !fi.Mode().IsRegular() {
				add(ptr, "file", p+" is not a regular file", "point at the file itself")
			}
		}
	})
	openSource := func(s Source) error {
		_, err := legacy.OpenSource(s.Kind, s.Config, t.Dir)
		return err
	}
	openPeople := func(s Source) error {
		_, err := legacy.People.Open(s.Kind, s.Config, registry.Env{Dir: t.Dir})
		return err
	}
	t.checkSourcesOffline(add, "/sources", t.Sources, openSource)
	t.checkSourcesOffline(add, "/people", t.People, openPeople)
	if len(probs) == 0 {
		return nil
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return &ConfigError{File: t.File, Problems: probs}
}

// checkSourcesOffline checks the named sources at ptr: their files and
// folders, and what opening each one checks.
func (t *Tenant) checkSourcesOffline(add func(ptr, rule, msg, hint string), ptr string, srcs map[string]Source, open func(Source) error) {
	for _, n := range sortedNames(srcs) {
		s := srcs[n]
		base := schemas.JoinPointer(ptr, n) + "/config"
		var cfg struct {
			Path string `json:"path"`
			Dir  string `json:"dir"`
		}
		if err := json.Unmarshal(s.Config, &cfg); err == nil {
			if cfg.Path != "" {
				checkPath(add, base+"/path", t.Dir, cfg.Path, false)
			}
			if cfg.Dir != "" && s.Kind == "inbox" {
				checkPath(add, base+"/dir", t.Dir, cfg.Dir, true)
			}
		}
		if err := open(s); err != nil {
			var qe *legacy.QueryError
			if errors.As(err, &qe) {
				add(base, "read-only", "query or DSN refused ("+qe.Rule+"): "+qe.Reason,
					"Ponte only reads the source database (tributi, anagrafe): write one SELECT (or WITH … SELECT), give Ponte a database user with SELECT rights only, no multiStatements")
				continue
			}
			add(base, "source", err.Error(), "fix the source config as the message says")
		}
	}
}

func checkPath(add func(ptr, rule, msg, hint string), ptr, dir, p string, wantDir bool) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		add(ptr, "file", fmt.Sprintf("%s does not exist or cannot be read (%v)", p, errors.Unwrap(err)),
			"put the export there, or fix the path (relative paths start at the config file's folder)")
	case wantDir && !fi.IsDir():
		add(ptr, "file", p+" is not a directory", "point dir at the folder the back office drops files into")
	case !wantDir && !fi.Mode().IsRegular():
		add(ptr, "file", p+" is a directory, not a file", "point path at the export file itself, or use an inbox source for a folder")
	}
}

// walkStrings calls f with the pointer, the key and the value of every string
// in v.
func walkStrings(v any, ptr string, f func(ptr, key, v string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := schemas.JoinPointer(ptr, k)
			if s, ok := c.(string); ok {
				f(p, k, s)
				continue
			}
			walkStrings(c, p, f)
		}
	case []any:
		for i, c := range x {
			p := schemas.JoinPointer(ptr, fmt.Sprint(i))
			if s, ok := c.(string); ok {
				f(p, "", s)
				continue
			}
			walkStrings(c, p, f)
		}
	}
}
