package legacy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// KindInbox is the tenant config kind of the inbox folder source.
const KindInbox = "inbox"

func init() {
	RegisterSource(KindInbox, "legacy-inbox.schema.json", func(cfg json.RawMessage, baseDir string) (DebtorSource, error) {
		var c InboxConfig
		if err := decodeStrict(KindInbox, cfg, &c); err != nil {
			return nil, err
		}
		return NewInboxSource(c, baseDir)
	})
}

// InboxConfig configures a folder where the back office drops export files: every file
// matching Pattern is read with the Format source, then moved to ProcessedDir (or to
// FailedDir when it cannot be read at all); it mirrors legacy-inbox.schema.json.
type InboxConfig struct {
	Dir     string `json:"dir"`
	Pattern string `json:"pattern,omitempty"` // glob on file names, default "*"
	// Format is the kind that reads each file: csv or fixedwidth.
	Format string `json:"format"`
	// Config is the Format's config without "path".
	Config       json.RawMessage `json:"config,omitempty"`
	ProcessedDir string          `json:"processedDir,omitempty"` // default processed (inside Dir)
	FailedDir    string          `json:"failedDir,omitempty"`    // default failed (inside Dir)
}

// LedgerName is the file in the inbox Dir where every processed file's SHA-256 is
// recorded; a file whose content is in the ledger is never read again.
const LedgerName = ".ponte-inbox-ledger.jsonl"

// InboxSource reads an inbox folder. Read has side effects (it moves files); use
// Preview for a read that changes nothing.
type InboxSource struct {
	cfg                    InboxConfig
	dir, processed, failed string
	inner                  map[string]any
	preview                bool
	now                    func() time.Time
	Logger                 *slog.Logger // nil: slog.Default()
}

// NewInboxSource checks cfg, including the Format config, and returns the source.
func NewInboxSource(cfg InboxConfig, baseDir string) (*InboxSource, error) {
	if cfg.Dir == "" {
		return nil, errors.New("legacy: inbox: dir is required")
	}
	s := &InboxSource{cfg: cfg, now: time.Now}
	abs := func(p, def string) string {
		if p == "" {
			p = def
		}
		if !filepath.IsAbs(p) && baseDir != "" && p != def {
			p = filepath.Join(baseDir, p)
		}
		return p
	}
	s.dir = cfg.Dir
	if !filepath.IsAbs(s.dir) && baseDir != "" {
		s.dir = filepath.Join(baseDir, s.dir)
	}
	s.processed = abs(cfg.ProcessedDir, filepath.Join(s.dir, "processed"))
	s.failed = abs(cfg.FailedDir, filepath.Join(s.dir, "failed"))
	if s.cfg.Pattern == "" {
		s.cfg.Pattern = "*"
	}
	if _, err := filepath.Match(s.cfg.Pattern, ""); err != nil {
		return nil, fmt.Errorf("legacy: inbox: pattern %q: %w", s.cfg.Pattern, err)
	}
	switch cfg.Format {
	case KindCSV, KindFixedWidth:
	default:
		return nil, fmt.Errorf("legacy: inbox: format %q: use csv or fixedwidth", cfg.Format)
	}
	s.inner = map[string]any{}
	if len(cfg.Config) > 0 {
		if err := json.Unmarshal(cfg.Config, &s.inner); err != nil {
			return nil, fmt.Errorf("legacy: inbox: config: %w", err)
		}
	}
	if _, ok := s.inner["path"]; ok {
		return nil, errors.New("legacy: inbox: config must not set path: every file in dir is read")
	}
	if _, err := s.open("check.tmp"); err != nil { // validates the format config once
		return nil, fmt.Errorf("legacy: inbox: config: %w", err)
	}
	return s, nil
}

func (s *InboxSource) open(path string) (DebtorSource, error) {
	m := make(map[string]any, len(s.inner)+1)
	for k, v := range s.inner {
		m[k] = v
	}
	m["path"] = path
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return OpenSource(s.cfg.Format, b, "")
}

// Name is "inbox:" and the folder name.
func (s *InboxSource) Name() string { return "inbox:" + filepath.Base(s.dir) }

// Preview returns a source that reads the files Read would read, moving and recording
// nothing.
func (s *InboxSource) Preview() DebtorSource {
	c := *s
	c.preview = true
	return &c
}

func (s *InboxSource) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// InboxError lists the files that could not be read at all and were moved to the
// failed folder (or, in preview, would be).
type InboxError struct {
	Failed map[string]error // by file name
}

func (e *InboxError) Error() string {
	names := make([]string, 0, len(e.Failed))
	for n := range e.Failed {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + e.Failed[n].Error()
	}
	return "legacy: inbox: unreadable file(s): " + strings.Join(parts, "; ")
}

type ledgerEntry struct {
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Outcome string `json:"outcome"` // processed, failed, duplicate
	At      string `json:"at"`
}

func (s *InboxSource) loadLedger() (map[string]string, error) {
	f, err := os.Open(filepath.Join(s.dir, LedgerName))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("legacy: inbox: ledger: %w", err)
	}
	defer f.Close()
	done := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e ledgerEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue // a line torn by a crash: the file it named is re-read, which is harmless
		}
		if e.Outcome == "processed" {
			done[e.SHA256] = e.File
		}
	}
	return done, sc.Err()
}

func (s *InboxSource) appendLedger(e ledgerEntry) error {
	f, err := os.OpenFile(filepath.Join(s.dir, LedgerName), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("legacy: inbox: ledger: %w", err)
	}
	b, _ := json.Marshal(e)
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("legacy: inbox: ledger: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("legacy: inbox: ledger: %w", err)
	}
	return f.Close()
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// moveTo renames p into dir, adding .1, .2, ... when the name is taken.
func moveTo(p, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Base(p)
	for i := 0; i < 10000; i++ {
		name := base
		if i > 0 {
			name = base + "." + strconv.Itoa(i)
		}
		dst := filepath.Join(dir, name)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		return dst, os.Rename(p, dst)
	}
	return "", fmt.Errorf("too many files named %s in %s", base, dir)
}

// Files lists the files Read would consider, sorted by name.
func (s *InboxSource) Files() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("legacy: inbox: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if ok, _ := filepath.Match(s.cfg.Pattern, e.Name()); ok {
			out = append(out, filepath.Join(s.dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Read reads every matching file in name order. A file read to its end goes to the
// processed folder and into the ledger; a file that cannot be read at all (missing
// header, I/O error) goes to the failed folder with a .error.txt note, and Read goes on
// with the next file, returning an *InboxError at the end. A stop caused by ctx or by a
// callback leaves the current file in place: it is read again next time, which is
// harmless because staging downstream is idempotent by ExternalID. A file whose content
// is already in the ledger is moved to processed unread.
func (s *InboxSource) Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (Stats, error) {
	var total Stats
	if emit == nil || reject == nil {
		return total, errNoReject
	}
	done, err := s.loadLedger()
	if err != nil {
		return total, err
	}
	files, err := s.Files()
	if err != nil {
		return total, err
	}
	failed := map[string]error{}
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return total, fmt.Errorf("legacy: inbox: %w", err)
		}
		name := filepath.Base(p)
		if prev, dup := done[sum]; dup {
			s.logger().Info("inbox: file already processed, not read again", "file", name, "first", prev)
			if err := s.finish(p, sum, "duplicate", s.processed); err != nil {
				return total, err
			}
			continue
		}
		src, err := s.open(p)
		if err != nil {
			return total, err
		}
		var cbErr error
		st, rerr := src.Read(ctx,
			func(d Debtor) error { cbErr = emit(d); return cbErr },
			func(r Reject) error { cbErr = reject(r); return cbErr })
		total.Read += st.Read
		total.Valid += st.Valid
		total.Rejected += st.Rejected
		if rerr != nil && (cbErr != nil || ctx.Err() != nil) {
			return total, rerr
		}
		if rerr != nil {
			failed[name] = rerr
			s.logger().Warn("inbox: file unreadable, moved to failed", "file", name, "err", rerr)
			if !s.preview {
				_ = os.MkdirAll(s.failed, 0o755)
				_ = os.WriteFile(filepath.Join(s.failed, name+".error.txt"), []byte(rerr.Error()+"\n"), 0o644)
			}
			if err := s.finish(p, sum, "failed", s.failed); err != nil {
				return total, err
			}
			continue
		}
		if err := s.finish(p, sum, "processed", s.processed); err != nil {
			return total, err
		}
		done[sum] = name
	}
	if len(failed) > 0 {
		return total, &InboxError{Failed: failed}
	}
	return total, nil
}

// finish moves the file, then records it: a crash between the two leaves a moved file
// that is not in the ledger, which is never read again because it left the inbox.
func (s *InboxSource) finish(p, sum, outcome, dir string) error {
	if s.preview {
		return nil
	}
	dst, err := moveTo(p, dir)
	if err != nil {
		return fmt.Errorf("legacy: inbox: move %s: %w", filepath.Base(p), err)
	}
	return s.appendLedger(ledgerEntry{File: filepath.Base(dst), SHA256: sum, Outcome: outcome, At: s.now().UTC().Format(time.RFC3339)})
}
