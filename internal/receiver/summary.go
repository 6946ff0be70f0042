package receiver

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// summaryEvery is how often the receiver logs what its intake did. Each stored event is logged
// at debug only: a log line per event cost the receiver about a fifth of its throughput.
const summaryEvery = 10 * time.Second

// intakeCounts are the intake's counters (internal/intake metrics), summed over their labels.
type intakeCounts struct {
	stored, duplicates, rejected, unavailable float64
}

func readIntakeCounts(g prometheus.Gatherer) (intakeCounts, error) {
	mfs, err := g.Gather()
	if err != nil {
		return intakeCounts{}, err
	}
	var c intakeCounts
	for _, mf := range mfs {
		var p *float64
		switch mf.GetName() {
		case "hz_intake_enqueued_total":
			p = &c.stored
		case "hz_intake_duplicates_total":
			p = &c.duplicates
		case "hz_journal_events_total": // the journal's duplicates are found when its entries are moved
			for _, m := range mf.GetMetric() {
				if labelValue(m, "outcome") == "duplicate" {
					c.duplicates += m.GetCounter().GetValue()
				}
			}
			continue
		case "hz_intake_rejected_total":
			p = &c.rejected
		case "hz_intake_unavailable_total":
			p = &c.unavailable
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			*p += m.GetCounter().GetValue()
		}
	}
	return c, nil
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// logSummaries logs, every interval in which something happened, how many deliveries were
// stored, were duplicates, were rejected and could not be stored, until ctx ends.
func logSummaries(ctx context.Context, g prometheus.Gatherer, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last intakeCounts
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := readIntakeCounts(g)
		if err != nil {
			log.WarnContext(ctx, "intake summary unavailable", "err", err)
			continue
		}
		d := intakeCounts{now.stored - last.stored, now.duplicates - last.duplicates, now.rejected - last.rejected, now.unavailable - last.unavailable}
		last = now
		if d == (intakeCounts{}) {
			continue
		}
		log.InfoContext(ctx, "intake summary", "stored", int64(d.stored), "duplicates", int64(d.duplicates),
			"rejected", int64(d.rejected), "unavailable", int64(d.unavailable), "interval", every.String())
	}
}
