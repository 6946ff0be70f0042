package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/intake"
	"github.com/hzhook/hzhook/internal/queue"
)

// Acceptor verifies and durably stores one delivery (intake.Intake).
type Acceptor interface {
	Accept(ctx context.Context, d intake.Delivery) (intake.Result, error)
}

// Options configure the webhook route.
type Options struct {
	Path         string
	MaxBodyBytes int64
	MaxInFlight  int           // more concurrent requests than this answer 429
	RetryAfter   time.Duration // sent with 429 and 503
	Log          *slog.Logger
	Registerer   prometheus.Registerer
	// TracerProvider, when set, makes a server span of every request; intake's spans (the publish)
	// are its children. Nil: no spans.
	TracerProvider trace.TracerProvider
	// Propagator reads a traceparent the sender sent, which the server span links to (never
	// continues: the listener is public). Nil: none is read.
	Propagator propagation.TextMapPropagator
}

// NewServer returns the echo instance of the public webhook listener: POST on o.Path and nothing
// else. It answers 204 only after the event is stored (see intake.Intake.Accept).
func NewServer(a Acceptor, o Options) *echo.Echo {
	e, m := handlers.NewEcho("webhook", o.Log, o.Registerer)
	retry := strconv.Itoa(max(1, int(o.RetryAfter.Seconds())))
	if o.TracerProvider != nil {
		e.Use(serverSpan(o.TracerProvider, o.Propagator, o.Path))
	}
	e.Use(middleware.RequestID(), handlers.InFlightLimit(o.MaxInFlight, retry, m))
	h := &webhook{acceptor: a, maxBody: o.MaxBodyBytes, retryAfter: retry, log: o.Log}
	e.POST(o.Path, h.receive)
	return e
}

type webhook struct {
	acceptor   Acceptor
	maxBody    int64
	retryAfter string
	log        *slog.Logger
	bodies     sync.Pool // *bytes.Buffer: request bodies, reused once Accept returned
}

// maxPooledBody bounds the buffers kept for reuse, so one large delivery does not pin its memory.
const maxPooledBody = 64 << 10

func (h *webhook) receive(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	buf, _ := h.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	// Accept keeps nothing of the body once it returned (the publish copies it onto the NATS
	// connection), and of its result only the event's strings are used below.
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			h.bodies.Put(buf)
		}
	}()
	body, err := readBody(req, h.maxBody, buf)
	if err != nil {
		return err
	}
	res, err := h.acceptor.Accept(ctx, intake.Delivery{
		Org:       req.Header.Get(queue.HeaderOrg),
		HookID:    req.Header.Get(queue.HeaderHookID),
		Signature: req.Header.Get(queue.HeaderSignature),
		Body:      body,
		Source:    queue.SourceWebhook,
	})
	var rej *intake.RejectError
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		if errors.As(err, &rej) {
			span.SetAttributes(attribute.String(AttrRejectReason, rej.Reason))
		} else {
			span.SetAttributes(attribute.String(queue.AttrEventID, res.Event.ID), attribute.String(queue.AttrEventType, res.Event.Type))
		}
	}
	switch {
	case errors.As(err, &rej):
		h.log.InfoContext(ctx, "delivery rejected", "reason", rej.Reason, "err", rej.Err,
			"org", req.Header.Get(queue.HeaderOrg), "hook", req.Header.Get(queue.HeaderHookID), "request_id", handlers.RequestID(c))
		return handlers.Error(http.StatusBadRequest, rejectMessage(rej))
	case err != nil:
		h.log.WarnContext(ctx, "event not stored", "err", err, "event_id", res.Event.ID, "type", res.Event.Type, "request_id", handlers.RequestID(c))
		c.Response().Header().Set("Retry-After", h.retryAfter)
		return handlers.Error(http.StatusServiceUnavailable, "event could not be stored; retry later")
	}
	// Per event at debug: the receiver logs an intake summary at info (a line per event costs
	// throughput).
	h.log.DebugContext(ctx, "event stored", "org", req.Header.Get(queue.HeaderOrg), "event_id", res.Event.ID,
		"type", res.Event.Type, "duplicate", res.Duplicate, "request_id", handlers.RequestID(c))
	return c.NoContent(http.StatusNoContent)
}

// readBody reads at most limit bytes into buf, whatever Content-Length claims; a longer body is a 413.
func readBody(req *http.Request, limit int64, buf *bytes.Buffer) ([]byte, error) {
	if req.ContentLength > limit {
		return nil, bodyTooLarge(limit)
	}
	// Room for the announced length plus the read that sees EOF, so a body of the announced size is
	// read without growing the buffer again.
	buf.Grow(int(max(req.ContentLength, 0)) + bytes.MinRead)
	n, err := buf.ReadFrom(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, handlers.Error(http.StatusBadRequest, "could not read body")
	}
	if n > limit {
		return nil, bodyTooLarge(limit)
	}
	return buf.Bytes(), nil
}

func bodyTooLarge(limit int64) error {
	return handlers.Error(http.StatusRequestEntityTooLarge, "body exceeds "+strconv.FormatInt(limit, 10)+" bytes")
}

// rejectMessage tells the sender what was wrong without echoing anything it sent.
func rejectMessage(r *intake.RejectError) string {
	switch r.Reason {
	case intake.ReasonMissingMetadata:
		return "missing event hook metadata: X-Hardenize-Org, X-Hardenize-EventHookId and X-Hardenize-Signature are required"
	case intake.ReasonUnknownHook:
		return "unknown organization or event hook"
	case intake.ReasonMalformedSignature:
		return "malformed X-Hardenize-Signature: expected t=<ms>; hmac-sha256=<64 hex>"
	case intake.ReasonBadSignature:
		return "signature does not match"
	case intake.ReasonStaleTimestamp:
		return "signature timestamp outside tolerance"
	default:
		return "body is not a Hardenize event: " + r.Err.Error()
	}
}
