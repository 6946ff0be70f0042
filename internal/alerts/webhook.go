package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/verify"
)

// Headers of the webhook sink.
const (
	// HeaderSignature carries "t=<unix ms>; hmac-sha256=<hex>" over "<t>;<body>", the scheme of
	// X-Hardenize-Signature, so receivers verify alerts as hzhook verifies Hardenize
	// (verify.NewVerifier).
	HeaderSignature = "X-Hzhook-Signature"
	// HeaderIdempotencyKey is the alert id: the same alert delivered twice has the same key.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// WebhookOptions configure a WebhookSink.
type WebhookOptions struct {
	URL    string
	Secret string       // HMAC key shared with the receiver; required
	Client *http.Client // default: 10s timeout, redirects not followed
	Now    func() time.Time
	Trace  Tracing // client spans and traceparent; zero: none
}

// WebhookSink POSTs each alert as JSON (the Alert schema), signed, with an Idempotency-Key.
// It is safe for concurrent use.
type WebhookSink struct {
	url    string
	secret string
	client *http.Client
	now    func() time.Time
	trace  httpTracer
}

// NewWebhookSink validates o and returns the sink.
func NewWebhookSink(o WebhookOptions) (*WebhookSink, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook sink url %q: must be an absolute http(s) URL", o.URL)
	}
	if o.Secret == "" {
		return nil, errors.New("webhook sink: a secret is required to sign alerts")
	}
	if o.Client == nil {
		o.Client = newHTTPClient()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &WebhookSink{url: o.URL, secret: o.Secret, client: o.Client, now: o.Now, trace: o.Trace.http()}, nil
}

// Kind returns KindWebhook.
func (s *WebhookSink) Kind() string { return KindWebhook }

// Deliver posts a. See Sink for the error classes.
func (s *WebhookSink) Deliver(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return events.Permanent(fmt.Errorf("webhook sink: encode alert: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return events.Permanent(fmt.Errorf("webhook sink: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hzhook-alerts")
	req.Header.Set(HeaderSignature, verify.Sign(s.secret, s.now(), body))
	req.Header.Set(HeaderIdempotencyKey, a.ID)
	return post(ctx, s.client, s.trace, KindWebhook, req)
}
