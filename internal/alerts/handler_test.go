package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
)

func TestHandlerDeadLettersWhatIsNotAnAlert(t *testing.T) {
	var logs bytes.Buffer
	h := NewHandler(NewLogSink(slog.New(slog.NewJSONHandler(&logs, nil))), NewMetrics(prometheus.NewRegistry()), nil)
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
