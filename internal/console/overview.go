package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
)

// overviewDays is the span of the issuances chart; findingsWindow that of the findings summary.
const (
	overviewDays   = 30
	findingsWindow = 7 * 24 * time.Hour
)

type overviewData struct {
	Errors map[string]string // part name → why it could not be shown

	Feeds        []feedRow
	Lags         []Lag
	Stages       []inventory.Count
	DeadLetters  int
	Findings     []barRow
	FindingTotal int
	Suppressed   int // of FindingTotal, recorded without an alert (an import's history)
	Expiring     []inventory.ExpiringCount
	Certificates int
	PerDay       dayChart
	Sync         syncCard

	FindingsOn  bool
	SilentAfter time.Duration
}

type feedRow struct {
	Type, Source string
	Last         time.Time
	Silent       bool // nothing for longer than SilentAfter, or never
}

// overviewPart fills its own fields of the overview (never another part's): parts load
// concurrently, and one that fails shows as unavailable without hiding the others. A new card is
// one more part and one more block in overview.html.
type overviewPart struct {
	name string
	load func(ctx context.Context, now time.Time, d *overviewData) error
}

func (con *Console) overviewParts() []overviewPart {
	inv := con.d.Inventory
	return []overviewPart{
		{"feeds", func(ctx context.Context, now time.Time, d *overviewData) error {
			fs, err := inv.Feeds(ctx, feedTypes(con.opts.Types), feedSources)
			if err != nil {
				return err
			}
			d.Feeds = feedRows(fs, con.opts.Types, now, con.opts.SilentAfter)
			return nil
		}},
		{"lag", func(ctx context.Context, _ time.Time, d *overviewData) error {
			if con.d.Consumers == nil {
				return nil
			}
			l, err := con.d.Consumers.ConsumerLag(ctx)
			d.Lags = l
			return err
		}},
		{"dlq", func(ctx context.Context, _ time.Time, d *overviewData) error {
			st, err := con.d.DLQ.Stages(ctx)
			if err != nil {
				return err
			}
			for stage, n := range st {
				d.Stages = append(d.Stages, inventory.Count{Key: stage, Count: int(n)})
				d.DeadLetters += int(n)
			}
			sort.Slice(d.Stages, func(i, j int) bool { return d.Stages[i].Key < d.Stages[j].Key })
			return nil
		}},
		{"findings", func(ctx context.Context, now time.Time, d *overviewData) error {
			cs, err := inv.FindingCounts(ctx, now.Add(-findingsWindow))
			if err != nil {
				return err
			}
			d.Findings = bars(cs, func(k string) string { return "/ui/findings?" + url.Values{"type": {k}}.Encode() })
			for _, c := range cs {
				d.FindingTotal += c.Count
			}
			d.Suppressed, err = inv.SuppressedFindings(ctx, now.Add(-findingsWindow))
			return err
		}},
		{"expiring", func(ctx context.Context, now time.Time, d *overviewData) error {
			e, err := inv.ExpiringCounts(ctx, now)
			d.Expiring = e
			return err
		}},
		{"certificates", func(ctx context.Context, _ time.Time, d *overviewData) error {
			n, err := inv.CountCertificates(ctx)
			d.Certificates = n
			return err
		}},
		{"certSync", func(ctx context.Context, now time.Time, d *overviewData) error {
			runs, err := inv.CertSyncRuns(ctx, syncRunsRead)
			if err != nil {
				return err
			}
			d.Sync = newSyncCard(runs, con.opts.CertSyncEvery, now)
			return nil
		}},
		{"perDay", func(ctx context.Context, now time.Time, d *overviewData) error {
			days, err := inv.IssuancesPerDay(ctx, now, overviewDays)
			d.PerDay = newDayChart(days, "Issuances per day by notBefore")
			return err
		}},
	}
}

func (con *Console) overview(c echo.Context) error {
	now := con.now()
	parts := con.overviewParts()
	data := overviewData{Errors: map[string]string{}, FindingsOn: con.opts.Findings, SilentAfter: con.opts.SilentAfter}
	errs := make([]error, len(parts))
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, p := range parts {
		// Each part writes only its own fields of data.
		wg.Go(func() { errs[i] = p.load(ctx, now, &data) })
	}
	wg.Wait()
	for i, p := range parts {
		if errs[i] != nil {
			con.log.WarnContext(ctx, "console overview part failed", "part", p.name, "err", errs[i])
			data.Errors[p.name] = "unavailable: " + errs[i].Error()
		}
	}
	return con.render(c, http.StatusOK, "overview", "Overview", "overview", data)
}

// feedRows are the feeds seen, each marked silent when quiet for longer than silentAfter, and
// every expected type never seen at all.
func feedRows(fs []inventory.FeedStat, expected []string, now time.Time, silentAfter time.Duration) []feedRow {
	out := []feedRow{}
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.Type] = true
		out = append(out, feedRow{Type: f.Type, Source: f.Source, Last: f.Last, Silent: now.Sub(f.Last) > silentAfter})
	}
	for _, t := range expected {
		if t != "test" && !seen[t] {
			out = append(out, feedRow{Type: t, Silent: true})
		}
	}
	slices.SortStableFunc(out, func(a, b feedRow) int {
		if a.Type != b.Type {
			if a.Type < b.Type {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// expiringHref lists what expires within days, soonest first.
func expiringHref(days int) string {
	return "/ui/certificates?" + url.Values{"expiresWithinDays": {strconv.Itoa(days)}, "sort": {"notAfter"}}.Encode()
}

// feedSources are the sources an event is received from (queue's Hz-Source values).
var feedSources = []string{queue.SourceWebhook, queue.SourcePubSub, queue.SourceBackfill}

// feedTypes are the types whose feeds the overview shows: the worker group's and the two the
// inventory stores, without test events (they are not stored).
func feedTypes(types []string) []string {
	out := []string{events.TypeCTEntry, events.TypeCertNew}
	for _, t := range types {
		if t != events.TypeTest && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
