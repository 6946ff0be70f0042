package hardenize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the Organization API; {org} is replaced by the organization label.
const DefaultBaseURL = "https://api.hardenize.com/v1/org/{org}/"

const (
	defaultMaxRetries = 5
	defaultMinBackoff = time.Second
	defaultMaxBackoff = time.Minute // the seed: "wait for a full minute" restores the burst allowance
	maxErrorBody      = 64 << 10
	maxBody           = 32 << 20
	userAgent         = "hzctl (hzhook)"
)

// Credentials are the HTTP Basic credentials of a Hardenize service account.
type Credentials struct {
	User     string `yaml:"user" json:"user"`
	Password string `yaml:"password" json:"password"`
}

// Options configure a Client. Org and Credentials are required.
type Options struct {
	BaseURL     string // DefaultBaseURL when empty; may contain {org}
	Org         string
	Credentials Credentials
	HTTPClient  *http.Client // a client with a 2-minute timeout when nil (;test runs synchronously)
	MaxRetries  int          // retries of a refused request (429, 5xx); 5 when 0, none when negative
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	// Sleep waits between retries; tests pass a fast one. It must return ctx.Err() when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the Organization API of one organization.
type Client struct {
	base  *url.URL
	creds Credentials
	http  *http.Client
	opts  Options
}

// New returns a Client for o.Org.
func New(o Options) (*Client, error) {
	if strings.TrimSpace(o.Org) == "" {
		return nil, errors.New("hardenize: organization label is empty")
	}
	if o.Credentials.User == "" || o.Credentials.Password == "" {
		return nil, errors.New("hardenize: api credentials are missing (user and password)")
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	raw := strings.ReplaceAll(o.BaseURL, "{org}", url.PathEscape(o.Org))
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("hardenize: api url %q is not an absolute http(s) url", o.BaseURL)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 2 * time.Minute}
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = defaultMaxRetries
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return &Client{base: base, creds: o.Credentials, http: o.HTTPClient, opts: o}, nil
}

// Org is the organization label the client works on.
func (c *Client) Org() string { return c.opts.Org }

// do sends one request and decodes a 2xx JSON answer into out (when not nil). path is relative to
// the base URL and already escaped. Refused requests (429, 502, 503, 504 and, for requests that
// change nothing, every 5xx and network error) are retried.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	raw := c.base.String() + path
	if len(query) > 0 {
		raw += "?" + query.Encode()
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
	}
	idempotent := method == http.MethodGet || method == http.MethodDelete
	for attempt := 0; ; attempt++ {
		retry, wait, err := c.once(ctx, method, u, body, out, idempotent)
		if err == nil {
			return nil
		}
		if !retry || c.opts.MaxRetries < 0 || attempt >= c.opts.MaxRetries {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s %s: %w (giving up: %w)", method, path, err, ctx.Err())
		}
	}
}

func (c *Client) once(ctx context.Context, method string, u *url.URL, body []byte, out any, idempotent bool) (retry bool, wait time.Duration, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return false, 0, fmt.Errorf("build request: %w", err)
	}
	req.SetBasicAuth(c.creds.User, c.creds.Password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return idempotent && ctx.Err() == nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			return false, 0, nil
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
			return false, 0, fmt.Errorf("decode answer: %w", err)
		}
		return false, 0, nil
	}
	apiErr := newAPIError(resp.StatusCode, resp.Header, io.LimitReader(resp.Body, maxErrorBody))
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests, code == http.StatusBadGateway,
		code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		return true, retryAfter(resp.Header.Get("Retry-After"), time.Now(), c.opts.MaxBackoff), apiErr
	case code >= 500:
		return idempotent, retryAfter(resp.Header.Get("Retry-After"), time.Now(), c.opts.MaxBackoff), apiErr
	}
	return false, 0, apiErr
}

// backoff doubles from MinBackoff up to MaxBackoff.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.MinBackoff << min(attempt, 16)
	return min(d, c.opts.MaxBackoff)
}

// retryAfter reads a Retry-After header (seconds or an HTTP date); 0 when absent or unusable.
func retryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, limit)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
