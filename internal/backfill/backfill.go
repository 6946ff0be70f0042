package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/queue"
)

// EventLister is the part of the Hardenize client Run needs.
type EventLister interface {
	ListEvents(ctx context.Context, q hardenize.EventsQuery) ([]hardenize.RawEvent, error)
}

// Publisher stores a message and reports whether the stream already had its id (*queue.Publisher).
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error)
}

// Deps are the collaborators of a Backfiller. API and Publisher are required.
type Deps struct {
	API       EventLister
	Publisher Publisher
	// Stream, when set, is scanned for the ids already stored since the start of the run, so that
	// events older than the duplicate window are not stored twice either.
	Stream jetstream.JetStream
	Log    *slog.Logger
	Now    func() time.Time
}

// Options are one run's parameters.
type Options struct {
	Org    string    // X-Hardenize-Org of the stored events
	HookID string    // X-Hardenize-EventHookId of the stored events (see the package comment)
	Since  time.Time // pull events created after this time (a checkpoint further on wins)
	Type   string    // only this event type; empty = all
	// PageSize is the limit per call, 1..100 (100 when 0).
	PageSize int
	// Overlap is how far before the last createdOn the next page starts; 1ms (the API's
	// precision) when 0.
	Overlap time.Duration
	// Checkpoint keeps the position between runs; nil = start from Since every time.
	Checkpoint CheckpointStore
	// Progress, when set, is called after every page, from Run's goroutine.
	Progress func(Progress)
}

// Progress is reported after every page.
type Progress struct {
	Pages     int
	Events    int       // events fetched so far
	Stored    int       // newly stored so far
	Cursor    time.Time // createdOn of the last event seen
	Rate      float64   // events fetched per second
	Elapsed   time.Duration
	LastPage  int // events in the page just read
	Completed bool
}

// Stats summarize a run.
type Stats struct {
	Pages         int           `json:"pages"`
	Events        int           `json:"events"`        // fetched from the API (overlap re-reads excluded)
	Stored        int           `json:"stored"`        // newly stored in HZ_EVENTS
	Duplicates    int           `json:"duplicates"`    // dropped by JetStream's duplicate window
	AlreadyStored int           `json:"alreadyStored"` // found in HZ_EVENTS by the scan, not published
	Invalid       int           `json:"invalid"`       // not a Hardenize event envelope: not stored
	Resumed       bool          `json:"resumed"`       // started from a checkpoint
	From          time.Time     `json:"from"`
	Cursor        time.Time     `json:"cursor"` // createdOn of the last event seen
	Elapsed       time.Duration `json:"elapsed"`
	Rate          float64       `json:"rate"` // events per second
}

// ErrStuck is returned when a whole page holds only events already seen: more than PageSize events
// share the createdOn window of one page and the API offers no way past them.
var ErrStuck = errors.New("backfill cannot advance: a full page of events shares one timestamp; raise the page size")

// Backfiller runs backfills. It is safe for concurrent use, but two runs sharing a checkpoint
// must not overlap (see Lock).
type Backfiller struct {
	d Deps
}

// New returns a Backfiller.
func New(d Deps) *Backfiller {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Backfiller{d: d}
}

// Run pulls every event created after o.Since (or after the checkpoint) up to the newest and stores
// the missing ones. It returns the stats so far with any error; after an error or a cancelled ctx
// the checkpoint holds the last complete page, so the next Run continues from there.
func (b *Backfiller) Run(ctx context.Context, o Options) (Stats, error) {
	if o.Org == "" || o.HookID == "" {
		return Stats{}, errors.New("backfill: org and hook id are required")
	}
	if o.PageSize <= 0 || o.PageSize > hardenize.MaxEventsPerPage {
		o.PageSize = hardenize.MaxEventsPerPage
	}
	if o.Overlap <= 0 {
		o.Overlap = time.Millisecond
	}
	start := b.d.Now()
	st := Stats{From: o.Since.UTC()}
	pos := position{cursor: o.Since.UTC(), seen: map[string]time.Time{}}
	if o.Checkpoint != nil {
		cp, ok, err := o.Checkpoint.Load(ctx)
		if err != nil {
			return st, fmt.Errorf("backfill: %w", err)
		}
		if ok {
			if err := cp.matches(o); err != nil {
				return st, fmt.Errorf("backfill: %w", err)
			}
			if cp.Cursor.After(pos.cursor) {
				pos = cp.position()
				st.Resumed = true
			}
		}
	}
	st.Cursor = pos.cursor

	var stored map[string]struct{}
	if b.d.Stream != nil {
		var err error
		if stored, err = StoredIDs(ctx, b.d.Stream, pos.cursor.Add(-scanSlack)); err != nil {
			return st, fmt.Errorf("backfill: %w", err)
		}
	}

	for {
		q := hardenize.EventsQuery{Type: o.Type, Limit: o.PageSize}
		if !pos.cursor.IsZero() {
			q.Since = pos.cursor.Add(-o.Overlap)
		}
		page, err := b.d.API.ListEvents(ctx, q)
		if err != nil {
			return b.finish(st, start), fmt.Errorf("backfill: %w", err)
		}
		st.Pages++
		fresh := 0
		for _, ev := range page {
			if _, ok := pos.seen[ev.ID]; ok {
				continue
			}
			fresh++
			st.Events++
			if err := b.store(ctx, o, ev, stored, &st); err != nil {
				return b.finish(st, start), fmt.Errorf("backfill: %w", err)
			}
			pos.add(ev)
		}
		pos.prune(o.Overlap)
		st.Cursor = pos.cursor
		if o.Checkpoint != nil {
			if err := o.Checkpoint.Save(ctx, newCheckpoint(o, pos, b.d.Now())); err != nil {
				return b.finish(st, start), fmt.Errorf("backfill: %w", err)
			}
		}
		done := len(page) < o.PageSize
		st = b.finish(st, start)
		if o.Progress != nil {
			o.Progress(Progress{Pages: st.Pages, Events: st.Events, Stored: st.Stored, Cursor: st.Cursor,
				Rate: st.Rate, Elapsed: st.Elapsed, LastPage: len(page), Completed: done})
		}
		if done {
			b.d.Log.InfoContext(ctx, "backfill complete", "org", o.Org, "hook", o.HookID, "pages", st.Pages,
				"events", st.Events, "stored", st.Stored, "cursor", st.Cursor)
			return st, nil
		}
		if fresh == 0 {
			return st, fmt.Errorf("backfill at %s: %w", pos.cursor.Format(time.RFC3339Nano), ErrStuck)
		}
	}
}

func (b *Backfiller) finish(st Stats, start time.Time) Stats {
	st.Elapsed = b.d.Now().Sub(start)
	if secs := st.Elapsed.Seconds(); secs > 0 {
		st.Rate = float64(st.Events) / secs
	}
	return st
}

// store publishes one event unless it is known to be stored already.
func (b *Backfiller) store(ctx context.Context, o Options, ev hardenize.RawEvent, stored map[string]struct{}, st *Stats) error {
	env, err := events.ParseEnvelope(ev.Raw)
	if err != nil {
		st.Invalid++
		b.d.Log.WarnContext(ctx, "backfill skipped an invalid event", "event_id", ev.ID, "err", err)
		return nil
	}
	se := queue.StoredEvent{
		Org: o.Org, HookID: o.HookID, EventID: env.ID, Type: env.Type,
		Source: queue.SourceBackfill, ReceivedAt: b.d.Now(), Body: ev.Raw,
	}
	id := se.MsgID()
	if _, ok := stored[id]; ok {
		st.AlreadyStored++
		return nil
	}
	dup, err := b.d.Publisher.Publish(ctx, se.Msg(), id)
	if err != nil {
		return fmt.Errorf("store event %s: %w", env.ID, err)
	}
	if dup {
		st.Duplicates++
	} else {
		st.Stored++
	}
	return nil
}

// position is the paging state: the last createdOn and the ids seen within Overlap of it.
type position struct {
	cursor time.Time
	seen   map[string]time.Time
}

func (p *position) add(ev hardenize.RawEvent) {
	p.seen[ev.ID] = ev.CreatedOn
	if ev.CreatedOn.After(p.cursor) {
		p.cursor = ev.CreatedOn
	}
}

func (p *position) prune(overlap time.Duration) {
	low := p.cursor.Add(-overlap)
	for id, t := range p.seen {
		if t.Before(low) {
			delete(p.seen, id)
		}
	}
}
