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
	defaultMaxRetries      = 5
	defaultMinBackoff      = time.Second
	defaultMaxBackoff      = time.Minute // the seed: "wait for a full minute" restores the burst allowance
	defaultPollInterval    = 2 * time.Second
	defaultMaxPollInterval = 30 * time.Second
	maxErrorBody           = 64 << 10
	maxBody                = 32 << 20
	userAgent              = "hzctl (hzhook)"
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
	// Sleep waits between retries and between operation polls; tests pass a fast one. It must
	// return ctx.Err() when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock (Retry-After dates, cursor and listing timestamps); time.Now when nil.
	Now func() time.Time
	// PollInterval is the first wait before polling an asynchronous operation again; it doubles
	// up to MaxPollInterval. 2s and 30s when 0: the API allows about one request a second.
	PollInterval    time.Duration
	MaxPollInterval time.Duration
}

// Client calls the Organization API of one organization.
type Client struct {
	base       *url.URL
	creds      Credentials
	http       *http.Client
	noRedirect *http.Client // http that returns redirects instead of following them
	opts       Options
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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PollInterval <= 0 {
		o.PollInterval = defaultPollInterval
	}
	if o.MaxPollInterval <= 0 {
		o.MaxPollInterval = defaultMaxPollInterval
	}
	o.MaxPollInterval = max(o.MaxPollInterval, o.PollInterval)
	noRedirect := *o.HTTPClient
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: base, creds: o.Credentials, http: o.HTTPClient, noRedirect: &noRedirect, opts: o}, nil
}

// Org is the organization label the client works on.
func (c *Client) Org() string { return c.opts.Org }

// do sends one request and decodes a 2xx JSON answer into out (when not nil). path is relative to
// the base URL and already escaped. Refused requests (429, 502, 503, 504 and, for requests that
// change nothing, every 5xx and network error) are retried.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	_, err := c.doReply(ctx, method, path, query, in, out)
	return err
}

// doReply is do that also returns the answer, for callers that need its status or headers.
func (c *Client) doReply(ctx context.Context, method, path string, query url.Values, in, out any) (reply, error) {
	u, err := c.url(path, query)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return reply{}, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
	}
	r, err := c.send(ctx, request{method: method, url: u, body: body})
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out != nil && r.status != http.StatusNoContent {
		if err := json.Unmarshal(r.body, out); err != nil {
			return reply{}, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return r, nil
}

// url is the absolute URL of path (relative to the base URL, already escaped) with query.
func (c *Client) url(path string, query url.Values) (*url.URL, error) {
	raw := c.base.String() + path
	if len(query) > 0 {
		raw += "?" + query.Encode()
	}
	return url.Parse(raw)
}

// request is one API request; header holds extra headers (Range). With keep3xx a redirect is not
// followed but returned, as the operation results endpoint's 303 must be.
type request struct {
	method  string
	url     *url.URL
	header  http.Header
	body    []byte
	keep3xx bool
}

// reply is an accepted answer: any 2xx, or a 3xx when the request asked to keep it, its body read
// whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send sends req, retrying refused attempts as do documents, and returns the accepted answer or
// an *APIError (wrapped) for any other.
func (c *Client) send(ctx context.Context, req request) (reply, error) {
	idempotent := req.method == http.MethodGet || req.method == http.MethodDelete
	for attempt := 0; ; attempt++ {
		r, retry, wait, err := c.once(ctx, req, idempotent)
		if err == nil {
			return r, nil
		}
		if !retry || c.opts.MaxRetries < 0 || attempt >= c.opts.MaxRetries {
			return reply{}, err
		}
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return reply{}, fmt.Errorf("%w (giving up: %w)", err, ctx.Err())
		}
	}
}

func (c *Client) once(ctx context.Context, r request, idempotent bool) (_ reply, retry bool, wait time.Duration, err error) {
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), rd)
	if err != nil {
		return reply{}, false, 0, fmt.Errorf("build request: %w", err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.SetBasicAuth(c.creds.User, c.creds.Password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if r.keep3xx {
		hc = c.noRedirect
	}
	resp, err := hc.Do(req)
	if err != nil {
		return reply{}, idempotent && ctx.Err() == nil, 0, err
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	if code >= 200 && code < 300 || r.keep3xx && code >= 300 && code < 400 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		if err != nil {
			return reply{}, idempotent && ctx.Err() == nil, 0, fmt.Errorf("read answer: %w", err)
		}
		if len(body) > maxBody {
			return reply{}, false, 0, fmt.Errorf("answer is larger than %d MiB", maxBody>>20)
		}
		return reply{status: code, header: resp.Header, body: body}, false, 0, nil
	}
	apiErr := newAPIError(code, resp.Header, io.LimitReader(resp.Body, maxErrorBody))
	switch {
	case code == http.StatusTooManyRequests, code == http.StatusBadGateway,
		code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		return reply{}, true, retryAfter(resp.Header.Get("Retry-After"), c.opts.Now(), c.opts.MaxBackoff), apiErr
	case code >= 500:
		return reply{}, idempotent, retryAfter(resp.Header.Get("Retry-After"), c.opts.Now(), c.opts.MaxBackoff), apiErr
	}
	return reply{}, false, 0, apiErr
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
