package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
)

func TestHandlerDeadLettersWhatIsNotAnAlert(t *testing.T) {
	var logs bytes.Buffer
	h := NewHandler(NewLogSink(slog.New(slog.NewJSONHandler(&logs, nil))), nil, NewMetrics(prometheus.NewRegistry()), nil)
	good, err := json.Marshal(sampleAlert())
	require.NoError(t, err)

	errs := h.Handle(t.Context(), []dispatch.Message{{Data: []byte("{")}, {Data: []byte(`{"type":"weakKey"}`)}, {Data: good}})
	require.Len(t, errs, 3)
	var perm *events.PermanentError
	assert.True(t, errors.As(errs[0], &perm), "not JSON")
	assert.True(t, errors.As(errs[1], &perm), "no id")
	assert.NoError(t, errs[2])
	assert.Contains(t, logs.String(), `"msg":"certificate finding"`)
	assert.Contains(t, logs.String(), sampleAlert().ID)
}

// countingSink counts deliveries by alert id.
type countingSink struct{ got map[string]int }

func (s *countingSink) Kind() string { return KindWebhook }
func (s *countingSink) Deliver(_ context.Context, a Alert) error {
	s.got[a.ID]++
	return nil
}

// memLedger is a Ledger in memory that fails reads or writes on demand.
type memLedger struct {
	done              map[string]bool
	readErr, writeErr error
}

func (l *memLedger) AlertDelivered(_ context.Context, sink, id string) (bool, error) {
	return l.done[sink+"/"+id], l.readErr
}

func (l *memLedger) MarkAlertDelivered(_ context.Context, sink, id string, _ time.Time) error {
	if l.writeErr != nil {
		return l.writeErr
	}
	l.done[sink+"/"+id] = true
	return nil
}

// A redelivered alert (its acknowledgement was lost) is not sent again once the ledger holds it;
// a ledger that cannot be read or written never holds an alert back.
func TestHandlerSkipsWhatTheLedgerHolds(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink, ledger := &countingSink{got: map[string]int{}}, &memLedger{done: map[string]bool{}}
	h := NewHandler(sink, ledger, NewMetrics(reg), nil)
	a := sampleAlert()
	body, err := json.Marshal(a)
	require.NoError(t, err)
	msg := []dispatch.Message{{Data: body}}

	require.NoError(t, h.Handle(t.Context(), msg)[0])
	require.NoError(t, h.Handle(t.Context(), msg)[0], "the redelivery is acknowledged")
	assert.Equal(t, 1, sink.got[a.ID], "and not sent again")
	assert.Equal(t, 1.0, testutil.ToFloat64(h.metrics.skipped.WithLabelValues(KindWebhook)))

	b := sampleAlert()
	b.ID = "another"
	body, err = json.Marshal(b)
	require.NoError(t, err)
	ledger.readErr, ledger.writeErr = errors.New("database down"), errors.New("database down")
	require.NoError(t, h.Handle(t.Context(), []dispatch.Message{{Data: body}})[0])
	require.NoError(t, h.Handle(t.Context(), []dispatch.Message{{Data: body}})[0])
	assert.Equal(t, 2, sink.got["another"], "without a ledger: delivered, at least once")
}
