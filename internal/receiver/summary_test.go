package receiver

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/testenv"
)

func TestIntakeSummaryLogsWhatHappenedInEachInterval(t *testing.T) {
	reg := prometheus.NewRegistry()
	counter := func(name string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: name}, labels)
		reg.MustRegister(c)
		return c
	}
	stored := counter("hz_intake_enqueued_total", "source", "type")
	dups := counter("hz_intake_duplicates_total", "source")
	rejected := counter("hz_intake_rejected_total", "source", "reason")
	counter("hz_intake_unavailable_total", "source")
	stored.WithLabelValues("webhook", "ct.entry").Add(3)
	stored.WithLabelValues("pubsub", "test").Add(2)
	dups.WithLabelValues("webhook").Inc()
	rejected.WithLabelValues("webhook", "bad_signature").Inc()

	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		logSummaries(ctx, reg, slog.New(slog.NewJSONHandler(&logs, nil)), 5*time.Millisecond)
		close(done)
	}()
	require.Eventually(t, func() bool { return logs.String() != "" }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // quiet intervals log nothing
	cancel()
	<-done
	assert.JSONEq(t, `{"level":"INFO","msg":"intake summary","stored":5,"duplicates":1,"rejected":1,"unavailable":0,"interval":"5ms"}`,
		dropTime(t, logs.String()))
}

// dropTime removes the time field of the one JSON log line in s.
func dropTime(t *testing.T, s string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m), "one line: %s", s)
	delete(m, "time")
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// A redelivery inside a journal entry is found when the mover stores the entry: the summary counts
// it among the duplicates, and nothing else the mover counts.
func TestIntakeSummaryCountsTheJournalsDuplicates(t *testing.T) {
	reg := prometheus.NewRegistry()
	intakeDups := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hz_intake_duplicates_total", Help: "x"}, []string{"source"})
	journal := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hz_journal_events_total", Help: "x"}, []string{"outcome"})
	reg.MustRegister(intakeDups, journal)
	intakeDups.WithLabelValues("webhook").Inc()
	journal.WithLabelValues("duplicate").Add(2)
	journal.WithLabelValues("stored").Add(40)
	journal.WithLabelValues("failed").Add(3)

	c, err := readIntakeCounts(reg)
	require.NoError(t, err)
	assert.Equal(t, intakeCounts{duplicates: 3}, c)
}
