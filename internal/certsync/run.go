package certsync

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hzhook/hzhook/internal/hardenize"
)

// Lister is the part of the Hardenize client a run needs (*hardenize.Client).
type Lister interface {
	ListCertsPages(ctx context.Context, q hardenize.ListCertsQuery, from hardenize.CertCursor, onStatus func(hardenize.OperationStatus)) iter.Seq2[hardenize.CertPage, error]
}

// Publisher stores a message and reports whether the stream already had its id (*queue.Publisher).
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (duplicate bool, err error)
}

// State is what the inventory holds of a listed certificate.
type State int

// States of a certificate against the inventory.
const (
	New       State = iota // not in the inventory, or only from a CT entry: sent to be stored
	Changed                // the inventory's copy differs: sent to be stored again
	Unchanged              // the inventory has it as listed: not sent
)

// Compare says, for each certificate of a page in order, what the inventory holds of it. The
// worker compares with its store; hzctl, which has none, passes no Compare and sends everything.
type Compare func(ctx context.Context, certs []hardenize.CertRecord) ([]State, error)

// Deps are the collaborators of a run. API and Publisher are required.
type Deps struct {
	API       Lister
	Publisher Publisher
	Log       *slog.Logger
	Now       func() time.Time
}

// Options are one run's parameters.
type Options struct {
	Org    string // X-Hardenize-Org of the events
	Source string // queue.SourceImport or queue.SourceSync
	// Alerts false marks every event Hz-Alerts: off: its findings are recorded, never alerted.
	Alerts bool
	// Limit caps the certificates listed (the API's limit; it does not set the page size); 0 = all.
	Limit int
	// Compare, when set, leaves out the certificates the inventory has as listed.
	Compare Compare
	// Checkpoint keeps the position between runs; nil = always a new listing.
	Checkpoint CheckpointStore
	// Progress, when set, is called after every page, from Run's goroutine.
	Progress func(Progress)
	// OnStatus, when set, sees every status poll of the listing operation.
	OnStatus func(hardenize.OperationStatus)
}

// Stats count a run (and, resumed from a checkpoint, the runs before it).
type Stats struct {
	Pages        int       `json:"pages"`
	PagesTotal   int       `json:"pagesTotal"`   // pages of the listing, once the API said
	Certificates int       `json:"certificates"` // certificate objects listed so far
	Total        int       `json:"total"`        // certificates in the listing, once the API said
	Published    int       `json:"published"`    // newly stored in HZ_EVENTS
	Duplicates   int       `json:"duplicates"`   // HZ_EVENTS had the same certificate and content already
	New          int       `json:"new"`          // with Compare: not in the inventory
	Changed      int       `json:"changed"`      // with Compare: different from the inventory's copy
	Unchanged    int       `json:"unchanged"`    // with Compare: as stored, not sent
	Rejected     int       `json:"rejected"`     // objects that are no valid certificate: not sent
	Resumed      bool      `json:"resumed"`      // continued from a checkpoint
	Restarted    bool      `json:"restarted"`    // the checkpoint's listing had expired: a new one was taken
	AsOf         time.Time `json:"asOf"`         // when the listing was requested
	Completed    bool      `json:"completed"`
	Elapsed      Duration  `json:"elapsed"` // this run's
	Rate         float64   `json:"rate"`    // certificates per second in this run
}

// Duration is a time.Duration that reads and writes as text ("1m2.5s") in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// Progress is reported after every page.
type Progress struct {
	Stats
	ETA time.Duration // until the listing is delivered at this run's rate; 0 when unknown
}

// Run lists the account's certificates (resuming from the checkpoint when it holds an unfinished
// listing) and sends each one Compare does not find unchanged to HZ_EVENTS. The checkpoint is
// saved after every page whose certificates are all stored. It returns the stats with any error:
// after an error or a cancelled ctx the next Run with the same checkpoint continues after the last
// saved page; a page is sent again only if the run stopped inside it, and its message ids make
// that harmless.
func Run(ctx context.Context, d Deps, o Options) (Stats, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if o.Org == "" || o.Source == "" {
		return Stats{}, errors.New("certificates: org and source are required")
	}
	start := d.Now()
	var (
		st  Stats
		cur hardenize.CertCursor
	)
	if o.Checkpoint != nil {
		cp, ok, err := o.Checkpoint.Load(ctx)
		if err != nil {
			return st, fmt.Errorf("certificates: %w", err)
		}
		if ok {
			if err := cp.matches(o); err != nil {
				return st, fmt.Errorf("certificates: %w", err)
			}
			if !cp.Cursor.Done() && cp.Cursor.Operation != "" {
				cur, st = cp.Cursor, cp.Stats
				st.Resumed, st.Completed = true, false
			}
		}
	}
	base := st.Certificates // delivered before this run
	q := hardenize.ListCertsQuery{Limit: o.Limit}
	for {
		err := run(ctx, d, o, q, cur, &st, start, base)
		if errors.Is(err, hardenize.ErrOperationExpired) && st.Resumed && !st.Restarted {
			// The API discarded the listing ("collected in under one hour"): take a new one. What
			// was stored already comes back as duplicates.
			d.Log.WarnContext(ctx, "certificate listing expired; starting a new one", "org", o.Org, "operation", cur.Operation)
			cur, st, base = hardenize.CertCursor{}, Stats{Resumed: true, Restarted: true}, 0
			continue
		}
		st.Elapsed = Duration(d.Now().Sub(start))
		st.Rate = rate(st.Certificates-base, time.Duration(st.Elapsed))
		if err != nil {
			return st, fmt.Errorf("certificates: %w", err)
		}
		return st, nil
	}
}

// run pages from cur to the end of the listing, updating st.
func run(ctx context.Context, d Deps, o Options, q hardenize.ListCertsQuery, cur hardenize.CertCursor, st *Stats, start time.Time, base int) error {
	for page, err := range d.API.ListCertsPages(ctx, q, cur, o.OnStatus) {
		if err != nil {
			return err
		}
		next := page.Next
		st.AsOf = next.Started
		st.Pages, st.PagesTotal, st.Total = next.Page, next.Pages, next.Rows
		st.Certificates = next.Delivered
		st.Rejected += len(page.Rejected)
		for _, r := range page.Rejected {
			d.Log.WarnContext(ctx, "listed certificate refused, not stored", "org", o.Org, "page", next.Page, "index", r.Index, "err", r.Err)
		}
		if err := send(ctx, d, o, page, st); err != nil {
			return err
		}
		st.Completed = next.Done()
		st.Elapsed = Duration(d.Now().Sub(start))
		st.Rate = rate(st.Certificates-base, time.Duration(st.Elapsed))
		if o.Checkpoint != nil {
			cp := Checkpoint{Org: o.Org, Limit: o.Limit, Alerts: o.Alerts, Cursor: next, Stats: *st, Updated: d.Now().UTC()}
			if err := o.Checkpoint.Save(ctx, cp); err != nil {
				return err
			}
		}
		if o.Progress != nil {
			p := Progress{Stats: *st}
			if st.Rate > 0 && st.Total > st.Certificates {
				p.ETA = time.Duration(float64(st.Total-st.Certificates) / st.Rate * float64(time.Second))
			}
			o.Progress(p)
		}
	}
	return nil
}

// send publishes the certificates of one page that the inventory does not hold as listed.
func send(ctx context.Context, d Deps, o Options, page hardenize.CertPage, st *Stats) error {
	states := make([]State, len(page.Certs))
	if o.Compare != nil && len(page.Certs) > 0 {
		var err error
		if states, err = o.Compare(ctx, page.Certs); err != nil {
			return fmt.Errorf("compare with the inventory: %w", err)
		}
		if len(states) != len(page.Certs) {
			return fmt.Errorf("compare with the inventory: %d states for %d certificates", len(states), len(page.Certs))
		}
	}
	received := d.Now()
	for i, rec := range page.Certs {
		switch states[i] {
		case Unchanged:
			st.Unchanged++
			continue
		case Changed:
			st.Changed++
		default:
			if o.Compare != nil {
				st.New++
			}
		}
		se, msg, err := Event(o.Org, rec, page.Next.Started, received, o.Source, o.Alerts)
		if err != nil {
			return err
		}
		dup, err := d.Publisher.Publish(ctx, msg, se.MsgID())
		if err != nil {
			return fmt.Errorf("store certificate %s: %w", rec.Certificate.SHA256, err)
		}
		if dup {
			st.Duplicates++
		} else {
			st.Published++
		}
	}
	return nil
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
