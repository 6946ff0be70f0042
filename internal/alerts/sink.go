package alerts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/events"
)

// Sink kinds, the bounded values of the sink metrics label.
const (
	KindWebhook = "webhook"
	KindSlack   = "slack"
	KindLog     = "log"
)

// Sink delivers one alert. Deliver returns nil once the destination accepted it, an error wrapping
// *events.PermanentError when retrying cannot help (the destination refused the alert), and any
// other error when a later attempt may succeed. Deliver may be called again for an alert it
// already delivered (after a crash): destinations deduplicate by the alert id.
type Sink interface {
	Kind() string
	Deliver(ctx context.Context, a Alert) error
}

// ErrStatus is wrapped by the error of a destination that answered with an unexpected status.
var ErrStatus = errors.New("unexpected http status")

// defaultHTTPTimeout bounds one delivery attempt when no client is given.
const defaultHTTPTimeout = 10 * time.Second

// newHTTPClient returns a client with a timeout that does not follow redirects: a sink URL that
// redirects is a configuration mistake to report, not to follow with the alert body.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout:       defaultHTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// post sends req (in a client span, with the trace context in its headers, when tr traces) and
// classifies the outcome: 2xx is delivered; 429 and 5xx are transient, as are
// network errors and timeouts; any other status (4xx, 3xx) is permanent.
func post(ctx context.Context, client *http.Client, tr httpTracer, kind string, req *http.Request) (err error) {
	ctx, span := tr.start(ctx, kind, req)
	status := 0
	defer func() { endHTTP(span, status, err) }()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("%s sink: %w", kind, err)
	}
	status = resp.StatusCode
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("%s sink: %w %d: %s", kind, ErrStatus, resp.StatusCode, oneLine(snippet))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return events.Permanent(err)
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
