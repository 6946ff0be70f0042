package worker

import (
	"context"
	"log/slog"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
)

// DefaultHandlers are the handlers of this issue: ct.entry and pki.cert.new payloads are decoded
// and validated (bad data is a permanent error, dead-lettered at once) and recorded in the log.
// The inventory store replaces them by passing its own handlers in Deps.Handlers.
func DefaultHandlers(log *slog.Logger) map[string]dispatch.Handler {
	return map[string]dispatch.Handler{
		events.TypeCTEntry: ValidateHandler{Log: log, Decode: decodeCTEntry},
		events.TypeCertNew: ValidateHandler{Log: log, Decode: decodeCertificate},
	}
}

// ValidateHandler decodes every message with Decode and logs what it found: a handler without a
// store. It is stateless, hence idempotent and order-independent.
type ValidateHandler struct {
	Log *slog.Logger
	// Decode validates the payload and returns log attributes describing it; an error it returns
	// should wrap *events.PermanentError when the data is bad.
	Decode func(events.Event) ([]any, error)
}

// Handle implements dispatch.Handler.
func (h ValidateHandler) Handle(ctx context.Context, batch []dispatch.Message) []error {
	errs := make([]error, len(batch))
	for i, m := range batch {
		attrs, err := h.Decode(m.Event)
		if err != nil {
			errs[i] = err
			continue
		}
		attrs = append(attrs, "type", m.Event.Type, "event_id", m.Event.ID, "attempt", m.Attempt)
		h.Log.InfoContext(ctx, "event validated", attrs...)
	}
	return errs
}

func decodeCTEntry(e events.Event) ([]any, error) {
	entry, leaf, err := events.DecodeCTEntry(e)
	if err != nil {
		return nil, err
	}
	return []any{"sha256", entry.SHA256, "log", entry.Log, "precert", entry.Precert,
		"hosts", len(entry.Hosts), "not_after", leaf.NotAfter}, nil
}

func decodeCertificate(e events.Event) ([]any, error) {
	c, _, parseErr, err := events.DecodeCertificate(e)
	if err != nil {
		return nil, err
	}
	attrs := []any{"sha256", c.SHA256, "not_after", c.NotAfter}
	if parseErr != nil {
		attrs = append(attrs, "parse_err", parseErr.Error())
	}
	return attrs, nil
}
