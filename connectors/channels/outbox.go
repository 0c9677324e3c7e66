package channels

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/internal/store"
)

// Outbox states. A message moves
//
//	(none) → sending → sent | retry | failed | unknown
//	retry  → sending → …
//
// "sending" is written, durably, before the message is handed to its
// channel. A message found "sending" when a batch starts was being sent when
// an earlier attempt died: it becomes unknown and is never sent again —
// a person checks — because a second copy is worse than a reported gap.
// Only "retry" (a temporary failure: certainly not sent) is sent again.
//
// Callers may also record their own final states for messages they decided
// not to send (not on App IO, no address, already paid…): any state other
// than sending and retry is final.
const (
	StateSending = "sending"
	StateSent    = "sent"
	StateRetry   = "retry"
	StateFailed  = "failed"
	StateUnknown = "unknown"
)

// DiedWhileSending is the error text of a message found "sending".
const DiedWhileSending = "an earlier attempt stopped while sending: check the channel's records before sending it again"

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations is the outbox's schema component in the state store.
var Migrations = store.Register(store.Component{Name: "outbox", FS: migrationsFS, Dir: "migrations",
	Go: []store.GoMigration{{Version: 2, Name: "fillfactor", Up: outboxFillfactor}}})

// outboxFillfactor leaves half of each of the outbox table's pages free on
// PostgreSQL (fillfactor 50). A message's row is written two or three
// times (claimed "sending", then its outcome) and no index covers the
// columns that change, so with room on its page each new version of the
// row is a HOT update: written beside the old one, with no new entry in
// the key index and no index to clean up after it. With pages filled to
// the brim (the default, 100) each update moved the row to another page
// and added to the index. Pages written before keep their rows until
// these are updated; SQLite has no such setting.
func outboxFillfactor(ctx context.Context, tx *sql.Tx, dialect string) error {
	if dialect != store.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `ALTER TABLE outbox SET (fillfactor = 50)`)
	return err
}

// Key is a message's business id: Scope is what it belongs to ("campaign:
// tari-2026", "alert:…"), Item the person in that scope (a campaign item's
// sequence number, an alert recipient's), Slot which of that person's
// messages it is ("io", "fallback", "reminder-1").
type Key struct {
	Scope string
	Item  int64
	Slot  string
}

func (k Key) String() string { return k.Scope + "/" + strconv.FormatInt(k.Item, 10) + "/" + k.Slot }

// Entry is what the outbox knows about one message.
type Entry struct {
	Key
	Channel   string // the Sender's kind, or "" for a caller's outcome
	State     string
	MessageID string
	Error     string
	Attempts  int // times it was handed to a channel
	UpdatedAt time.Time
}

// Final reports whether the message is done with: nothing will send it.
func (e Entry) Final() bool { return e.State != StateRetry && e.State != StateSending && e.State != "" }

// Outbox sends messages to people exactly once per business key, through
// any Sender, across retries, crashes and workers sharing the state store.
// It is the one place where sending state lives; workflows choose channels
// and order, never re-implement sending.
type Outbox struct {
	// Observer, when set, is told of every message this outbox brings to a
	// final state (sent, failed, unknown, or an outcome recorded), once.
	Observer Observer

	db  *store.DB
	now func() time.Time
}

// Observer counts messages that reached a final state: tenant is
// Batch.Tenant, channel the Sender's kind or the Outcome's channel, state
// the final state. Implementations must be safe for concurrent use.
type Observer interface {
	Message(tenant, channel, state string)
}

// NewOutbox brings the outbox's table up to date and returns the outbox.
func NewOutbox(ctx context.Context, db *store.DB) (*Outbox, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, fmt.Errorf("outbox in %s: %w", db.Where, err)
	}
	return &Outbox{db: db, now: time.Now}, nil
}

func (o *Outbox) stamp() string { return o.now().UTC().Format(time.RFC3339Nano) }

// Recover turns every message of slot in scope for items [from, to) found
// "sending" into unknown (DiedWhileSending) and says how many there were.
// Call it when a batch starts, before deciding what to send: a message
// still "sending" then was being sent by an attempt that died.
func (o *Outbox) Recover(ctx context.Context, scope, slot string, from, to int64) (int, error) {
	res, err := o.db.ExecContext(ctx, o.db.Rebind(`UPDATE outbox SET state = ?, error = ?, updated_at = ?
		WHERE scope = ? AND slot = ? AND item >= ? AND item < ? AND state = ?`),
		StateUnknown, DiedWhileSending, o.stamp(), scope, slot, from, to, StateSending)
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Set writes an entry as given, whatever the message's state: for
// operators correcting a state after checking a channel's records, and
// for tests. Sending code uses Run.
func (o *Outbox) Set(ctx context.Context, e Entry) error {
	_, err := o.db.ExecContext(ctx, o.db.Rebind(`INSERT INTO outbox
		(scope, item, slot, channel, state, message_id, error, attempts, updated_at) VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT (scope, slot, item) DO UPDATE SET channel = excluded.channel, state = excluded.state,
			message_id = excluded.message_id, error = excluded.error, attempts = excluded.attempts, updated_at = excluded.updated_at`),
		e.Scope, e.Item, e.Slot, e.Channel, e.State, e.MessageID, clip(e.Error), e.Attempts, o.stamp())
	if err != nil {
		return fmt.Errorf("outbox: setting %s: %w", e.Key, err)
	}
	return nil
}

// Entries returns the messages of slot in scope for items [from, to), as
// they are.
func (o *Outbox) Entries(ctx context.Context, scope, slot string, from, to int64) (map[int64]Entry, error) {
	rows, err := o.db.QueryContext(ctx, o.db.Rebind(`SELECT item, channel, state, message_id, error, attempts, updated_at
		FROM outbox WHERE scope = ? AND slot = ? AND item >= ? AND item < ?`), scope, slot, from, to)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer rows.Close()
	out := map[int64]Entry{}
	for rows.Next() {
		e := Entry{Key: Key{Scope: scope, Slot: slot}}
		var at string
		if err := rows.Scan(&e.Item, &e.Channel, &e.State, &e.MessageID, &e.Error, &e.Attempts, &at); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		e.UpdatedAt, _ = time.Parse(time.RFC3339Nano, at) // written by stamp
		out[e.Item] = e
	}
	return out, rows.Err()
}

// All returns every message of scope, by item and slot: what a report
// reads.
func (o *Outbox) All(ctx context.Context, scope string) ([]Entry, error) {
	rows, err := o.db.QueryContext(ctx, o.db.Rebind(`SELECT item, slot, channel, state, message_id, error, attempts, updated_at
		FROM outbox WHERE scope = ? ORDER BY item, slot`), scope)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows, scope)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanEntry reads a row of item, slot, channel, state, message_id, error,
// attempts, updated_at.
func scanEntry(rows *sql.Rows, scope string) (Entry, error) {
	e := Entry{Key: Key{Scope: scope}}
	var at string
	if err := rows.Scan(&e.Item, &e.Slot, &e.Channel, &e.State, &e.MessageID, &e.Error, &e.Attempts, &at); err != nil {
		return Entry{}, fmt.Errorf("outbox: %w", err)
	}
	// Written by stamp; rows migrated from releases that did not write it
	// have none, and keep a zero time.
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		e.UpdatedAt = t
	}
	return e, nil
}

// Slots returns the messages in any of slots of scope for items [from, to),
// by item: what a workflow reads to know where each person's messages
// stand. It is one query whatever the number of slots (each campaign
// batch reads two).
func (o *Outbox) Slots(ctx context.Context, scope string, slots []string, from, to int64) (map[int64][]Entry, error) {
	out := map[int64][]Entry{}
	if len(slots) == 0 {
		return out, nil
	}
	args := []any{scope}
	for _, s := range slots {
		args = append(args, s)
	}
	args = append(args, from, to)
	rows, err := o.db.QueryContext(ctx, o.db.Rebind(`SELECT item, slot, channel, state, message_id, error, attempts, updated_at
		FROM outbox WHERE scope = ? AND slot IN (?`+strings.Repeat(",?", len(slots)-1)+`) AND item >= ? AND item < ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows, scope)
		if err != nil {
			return nil, err
		}
		out[e.Item] = append(out[e.Item], e)
	}
	return out, rows.Err()
}

// Outcome is a final state a caller records for a message it decided not
// to send (e.g. "not_on_io", "no_address"), with a reason.
type Outcome struct {
	Key     Key
	Channel string
	State   string
	Error   string
}

// Delivery is one message to send through one channel.
type Delivery struct {
	Key     Key
	Sender  Sender
	Message Message
}

// Result is what happened to one Delivery.
type Result struct {
	Key       Key
	Channel   string
	State     string // sent, retry, failed, unknown; or the final state found
	MessageID string
	// Err is the channel's error (classified, package failure) for retry,
	// failed and unknown; nil when sent or already final.
	Err error
	// Before is set when nothing was sent because the message had reached
	// State earlier (another worker, an earlier attempt).
	Before bool
}

// Batch is the work of one step: outcomes to record and messages to send.
type Batch struct {
	// Tenant the messages belong to, for the Observer's counts.
	Tenant string
	Record []Outcome
	Send   []Delivery
	// Concurrency is how many sends run at once (default 8).
	Concurrency int
}

// Run records b.Record and claims b.Send ("sending") in one transaction,
// sends the claimed messages concurrently, and records their outcomes in one
// more transaction: sent (with the channel's id), retry (a retryable error:
// a later Run sends it), failed (permanent), unknown (ambiguous: never sent
// again). Outcomes and claims apply only to messages never attempted or in
// retry; a message that is already final or being sent is left alone and
// reported with Before set. Messages not sent because ctx ended go back to
// retry. Results are in the order of b.Send.
func (o *Outbox) Run(ctx context.Context, b Batch) ([]Result, error) {
	results := make([]Result, len(b.Send))
	claimed, recorded, err := o.claim(ctx, b, results)
	if err != nil {
		return nil, err
	}
	if o.Observer != nil {
		for _, i := range recorded {
			o.Observer.Message(b.Tenant, b.Record[i].Channel, b.Record[i].State)
		}
	}
	n := b.Concurrency
	if n <= 0 {
		n = 8
	}
	var g errgroup.Group
	g.SetLimit(n)
	var mu sync.Mutex
	started := make([]bool, len(b.Send))
	for _, i := range claimed {
		if ctx.Err() != nil {
			break
		}
		started[i] = true
		g.Go(func() error {
			d := b.Send[i]
			if d.Message.Key == "" {
				// The business id travels with the message, so that a
				// channel that deduplicates (an SMS reference, a webhook
				// event id) sees the same one on every attempt.
				d.Message.Key = d.Key.String()
			}
			id, err := d.Sender.Send(ctx, d.Message)
			r := Result{Key: d.Key, Channel: d.Sender.Kind(), MessageID: id, Err: err}
			switch {
			case err == nil:
				r.State = StateSent
			case failure.IsAmbiguous(err):
				r.State = StateUnknown
			case failure.IsRetryable(err), errors.Is(err, context.Canceled):
				r.State = StateRetry
			default:
				r.State = StateFailed
			}
			mu.Lock()
			results[i] = r
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait() // every send reports through results
	for _, i := range claimed {
		if !started[i] {
			d := b.Send[i]
			results[i] = Result{Key: d.Key, Channel: d.Sender.Kind(), State: StateRetry,
				Err: failure.Retryablef("not sent: %w", context.Cause(ctx))}
		}
	}
	// Record even when ctx ended: the sends happened.
	if err := o.finish(context.WithoutCancel(ctx), claimed, results); err != nil {
		return results, err
	}
	if o.Observer != nil {
		for _, i := range claimed {
			if r := results[i]; r.State != StateRetry {
				o.Observer.Message(b.Tenant, r.Channel, r.State)
			}
		}
	}
	return results, nil
}

// claim records b.Record and marks b.Send as sending, in one transaction.
// It returns the indexes of b.Send it claimed (the others are filled in
// results with what they were) and those of b.Record it applied.
//
// Records and claims are one multi-row upsert per chunk (see
// store.DB.QueryRows) rather than one statement per message: on
// PostgreSQL each statement is a round trip, and a chunk of 64 messages
// took 64 of them. The upsert changes a row only when it was never
// attempted or is to be retried, and RETURNING names the rows it changed:
// those this caller got. A key given twice goes to a later statement, so a
// batch does exactly what the same upserts one by one did.
func (o *Outbox) claim(ctx context.Context, b Batch, results []Result) (claimed, recorded []int, err error) {
	if len(b.Record) == 0 && len(b.Send) == 0 {
		return nil, nil, nil
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	ts := o.stamp()
	// b.Record, then b.Send, as rows of claimCols.
	rows := make([][]any, 0, len(b.Record)+len(b.Send))
	for _, r := range b.Record {
		rows = append(rows, []any{r.Key.Scope, r.Key.Item, r.Key.Slot, r.Channel, r.State, clip(r.Error), 0, ts})
	}
	for _, d := range b.Send {
		rows = append(rows, []any{d.Key.Scope, d.Key.Item, d.Key.Slot, d.Sender.Kind(), StateSending, "", 1, ts})
	}
	got := make([]bool, len(rows))
	err = o.db.QueryRows(ctx, tx, claimCols, `INSERT INTO outbox (scope, item, slot, channel, state, error, attempts, updated_at)`,
		`ON CONFLICT (scope, slot, item) DO UPDATE SET channel = excluded.channel, state = excluded.state,
			message_id = '', error = excluded.error, attempts = outbox.attempts + excluded.attempts, updated_at = excluded.updated_at
		WHERE outbox.state = '`+StateRetry+`'
		RETURNING scope, item, slot`,
		rows, func(first int, chunk [][]any, res *sql.Rows) error {
			at := make(map[Key]int, len(chunk)) // keys are unique in a chunk
			for i, r := range chunk {
				at[Key{Scope: r[0].(string), Item: r[1].(int64), Slot: r[2].(string)}] = first + i
			}
			for res.Next() {
				var k Key
				if err := res.Scan(&k.Scope, &k.Item, &k.Slot); err != nil {
					return err
				}
				i, ok := at[k]
				if !ok {
					return fmt.Errorf("upsert returned %s, not in its rows", k)
				}
				got[i] = true
			}
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: recording and claiming %d messages: %w", len(rows), err)
	}
	for i, r := range b.Record {
		if got[i] && r.State != StateRetry {
			recorded = append(recorded, i)
		}
	}
	var before []int
	for i := range b.Send {
		if got[len(b.Record)+i] {
			claimed = append(claimed, i)
		} else {
			before = append(before, i)
		}
	}
	if err := o.readBefore(ctx, tx, b.Send, before, results); err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("outbox: %w", err)
	}
	return claimed, recorded, nil
}

// claimCols are the values of claim's upsert; the key first.
var claimCols = []store.Col{
	{Name: "scope", Key: true}, {Name: "item", Type: "BIGINT", Key: true}, {Name: "slot", Key: true},
	{Name: "channel"}, {Name: "state"}, {Name: "error"}, {Name: "attempts", Type: "INTEGER"}, {Name: "updated_at"},
}

// readBefore fills results for the deliveries at idx of send, which claim
// did not get, with the state their messages are in, in one query per
// chunk. Read in claim's transaction after all its upserts, that state is
// the one each upsert found: no later upsert of the batch changes a row
// that is neither new nor in retry.
func (o *Outbox) readBefore(ctx context.Context, tx *sql.Tx, send []Delivery, idx []int, results []Result) error {
	if len(idx) == 0 {
		return nil
	}
	keys := make([][]any, 0, len(idx))
	seen := make(map[Key]bool, len(idx))
	for _, i := range idx {
		if k := send[i].Key; !seen[k] {
			seen[k] = true
			keys = append(keys, []any{k.Scope, k.Slot, k.Item})
		}
	}
	found := make(map[Key]Entry, len(keys))
	err := o.db.QueryRows(ctx, tx, keyCols, `SELECT scope, item, slot, channel, state, message_id, error FROM outbox
		WHERE (scope, slot, item) IN (`, `)`, keys, func(_ int, _ [][]any, res *sql.Rows) error {
		for res.Next() {
			var e Entry
			if err := res.Scan(&e.Scope, &e.Item, &e.Slot, &e.Channel, &e.State, &e.MessageID, &e.Error); err != nil {
				return err
			}
			found[e.Key] = e
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: reading %d messages not claimed: %w", len(keys), err)
	}
	for _, i := range idx {
		k := send[i].Key
		e, ok := found[k]
		if !ok {
			return fmt.Errorf("outbox: reading %s: not claimed, yet not there", k)
		}
		results[i] = Result{Key: k, Channel: e.Channel, State: e.State, MessageID: e.MessageID, Before: true}
	}
	return nil
}

// keyCols are a message key's values, in the order of the outbox's
// primary key.
var keyCols = []store.Col{{Name: "scope"}, {Name: "slot"}, {Name: "item", Type: "BIGINT"}}

// finish records the outcomes of the claimed sends in one transaction, one
// multi-row UPDATE per chunk (see claim).
func (o *Outbox) finish(ctx context.Context, claimed []int, results []Result) error {
	if len(claimed) == 0 {
		return nil
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Not waiting for the WAL flush: if an OS crash loses these outcomes,
	// the messages stay "sending", and the next attempt reports them
	// unknown and never sends them again (Recover). The claim before the
	// sends stays durable: it is what keeps a message from going twice.
	if err := o.db.CommitWithoutFlush(ctx, tx); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	ts := o.stamp()
	rows := make([][]any, len(claimed))
	for j, i := range claimed {
		r := results[i]
		errText := ""
		if r.Err != nil {
			errText = clip(r.Err.Error())
		}
		rows[j] = []any{r.Key.Scope, r.Key.Item, r.Key.Slot, r.State, r.MessageID, errText, ts}
	}
	if err := o.db.UpdateRows(ctx, tx, "outbox", finishCols,
		`state = v.state, message_id = v.message_id, error = v.error, updated_at = v.updated_at`,
		`outbox.scope = v.scope AND outbox.slot = v.slot AND outbox.item = v.item`, rows); err != nil {
		return fmt.Errorf("outbox: recording %d outcomes: %w", len(rows), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// finishCols are the values of finish's update; the key first.
var finishCols = []store.Col{
	{Name: "scope", Key: true}, {Name: "item", Type: "BIGINT", Key: true}, {Name: "slot", Key: true},
	{Name: "state"}, {Name: "message_id"}, {Name: "error"}, {Name: "updated_at"},
}

// clip bounds a stored error text.
func clip(s string) string {
	const n = 1000
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// Backlog counts the outbox's messages not final yet (sending, retry) and
// those waiting for a person (unknown), by the kind of their scope (the
// part before ':', "campaign"), slot and state: a handful of rows whatever
// the number of campaigns, for the ponte_outbox_backlog gauge.
func (o *Outbox) Backlog(ctx context.Context) ([]BacklogRow, error) {
	rows, err := o.db.QueryContext(ctx, o.db.Rebind(`SELECT scope, slot, state, COUNT(*) FROM outbox
		WHERE state IN (?, ?, ?) GROUP BY scope, slot, state`), StateSending, StateRetry, StateUnknown)
	if err != nil {
		return nil, fmt.Errorf("outbox backlog: %w", err)
	}
	defer rows.Close()
	type key struct{ kind, slot, state string }
	sum := map[key]int64{}
	for rows.Next() {
		var scope, slot, state string
		var n int64
		if err := rows.Scan(&scope, &slot, &state, &n); err != nil {
			return nil, fmt.Errorf("outbox backlog: %w", err)
		}
		kind, _, _ := strings.Cut(scope, ":")
		sum[key{kind, slot, state}] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox backlog: %w", err)
	}
	out := make([]BacklogRow, 0, len(sum))
	for k, n := range sum {
		out = append(out, BacklogRow{Kind: k.kind, Slot: k.slot, State: k.state, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Kind < b.Kind || a.Kind == b.Kind && (a.Slot < b.Slot || a.Slot == b.Slot && a.State < b.State)
	})
	return out, nil
}

// BacklogRow is one line of Backlog.
type BacklogRow struct {
	Kind, Slot, State string
	Count             int64
}
