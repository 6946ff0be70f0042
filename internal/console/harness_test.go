package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/authz"
	"github.com/hzhook/hzhook/internal/console"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/ingest"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
	"github.com/hzhook/hzhook/internal/testenv"
)

const token = "console-test-token"

// harness is a console over real components: a SQLite inventory filled through the inventory's
// event handlers (with a policy that finds every certificate's issuer unexpected), a JetStream
// server holding the dead letters, the admin API beside the console on one echo instance.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	store  *inventory.Store
	conn   *queue.Conn
	dlq    *dlq.Store
	auth   *authz.Source
	now    time.Time
	writer *ingest.Writer
	nextID int64
}

// harnessConfig is what a harnessOption may change: the console's options and the dead-letter
// store's Reverifier (none by default: a rejected letter cannot be redriven).
type harnessConfig struct {
	console.Options
	reverifier dlq.Reverifier
}

type harnessOption func(*harnessConfig)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	ctx := context.Background()
	store, err := inventory.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "inv.db"), testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(store.Close)
	conn, _ := testenv.JetStream(t)
	policy, err := rules.Parse([]byte("watch:\n  - name: .example.com\n    issuers: [{sha256: [" + strings.Repeat("ab", 32) + "]}]\n"))
	require.NoError(t, err)
	cfg := harnessConfig{Options: console.Options{Token: token, Types: []string{events.TypeCTEntry, events.TypeCertNew}, Findings: true,
		Log: testenv.DiscardLog()}}
	for _, opt := range opts {
		opt(&cfg)
	}
	h := &harness{t: t, store: store, conn: conn, dlq: dlq.New(conn.JS, dlq.Options{Reverifier: cfg.reverifier}),
		now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	h.auth = authz.New(rules.NewStatic(policy), store, testenv.DiscardLog(), func() time.Time { return h.now })
	h.writer = ingest.New(store, ingest.Options{Rules: h.auth, Now: func() time.Time { return h.now }})

	e := handlers.NewAdminServer(prometheus.NewRegistry(), prometheus.NewRegistry(), testenv.DiscardLog())
	api := e.Group("/api/v1", handlers.BearerToken(token))
	adminapi.RegisterInventory(api, store, func() time.Time { return h.now })
	adminapi.RegisterDLQ(api, h.dlq)
	o := cfg.Options
	o.Now = func() time.Time { return h.now }
	_, err = console.Register(e, console.Deps{Inventory: store, DLQ: h.dlq, Authorizer: h.auth, Consumers: fixedLag{}}, o)
	require.NoError(t, err)
	h.srv = httptest.NewServer(e)
	t.Cleanup(h.srv.Close)
	return h
}

func trustProxy(p string) harnessOption {
	return func(c *harnessConfig) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(p)} }
}

func certSyncEvery(d time.Duration) harnessOption {
	return func(c *harnessConfig) { c.CertSyncEvery = d }
}

func reverifyWith(r dlq.Reverifier) harnessOption {
	return func(c *harnessConfig) { c.reverifier = r }
}

type fixedLag struct{}

func (fixedLag) ConsumerLag(context.Context) ([]console.Lag, error) {
	return []console.Lag{{Stream: queue.StreamEvents, Consumer: "hz-worker-ct_entry-pki_cert_new", Pending: 3, AckPending: 1}}, nil
}

// ingest stores event bodies through the inventory's handlers, as the worker would.
func (h *harness) ingest(bodies ...[]byte) {
	h.t.Helper()
	h.ingestFrom(queue.SourceWebhook, nil, bodies...)
}

// ingestFrom stores event bodies received from source with the stored headers hdr.
func (h *harness) ingestFrom(source string, hdr nats.Header, bodies ...[]byte) {
	h.t.Helper()
	hs := h.writer.Handlers()
	for _, b := range bodies {
		ev, err := events.ParseEnvelope(b)
		require.NoError(h.t, err)
		h.nextID++
		m := dispatch.Message{Data: b, Event: ev, Org: "demo", HookID: "hook", Source: source, Header: hdr,
			ReceivedAt: h.now.Add(-time.Duration(h.nextID) * time.Minute)}
		require.NoError(h.t, hs[ev.Type].Handle(context.Background(), []dispatch.Message{m})[0])
	}
}

// issue stores an issuance's precertificate and certificate through two CT entries each.
func (h *harness) issue(cn string, hosts ...string) issuance {
	h.t.Helper()
	is := newIssuance(h.t, cn, hosts, h.now.Add(-24*time.Hour), h.now.AddDate(0, 0, 20))
	h.nextID++
	h.ingest(is.ctEntry(h.t, h.nextID, true, h.nextID*10, h.now.Add(-2*time.Hour)), is.ctEntry(h.t, h.nextID+1000, false, h.nextID*10+1, h.now.Add(-time.Hour)))
	return is
}

// imported stores an issuance's certificate as hzctl certs import does without --alerts: marked
// Hz-Alerts: off, so its findings are recorded suppressed.
func (h *harness) imported(cn string, hosts ...string) issuance {
	h.t.Helper()
	is := newIssuance(h.t, cn, hosts, h.now.Add(-24*time.Hour), h.now.AddDate(0, 0, 20))
	h.nextID++
	h.ingestFrom(queue.SourceImport, nats.Header{queue.HeaderAlerts: {queue.AlertsOff}}, is.ctEntry(h.t, h.nextID, false, h.nextID*10, h.now.Add(-time.Hour)))
	return is
}

// deadLetter stores a dead letter of a ct.entry with body, as the worker does.
func (h *harness) deadLetter(id string, body []byte, class, reason string) {
	h.t.Helper()
	ev := queue.StoredEvent{Org: "demo", HookID: "hook", EventID: id, Type: events.TypeCTEntry, Source: queue.SourceWebhook, ReceivedAt: h.now, Body: body}
	msg := ev.Msg()
	msg.Header.Set("Nats-Msg-Id", ev.MsgID())
	require.NoError(h.t, queue.NewPublisher(h.conn.JS).DeadLetter(context.Background(), queue.DeadLetter{
		Stage: "worker", Subject: msg.Subject, Header: msg.Header, Data: body, Class: class, Reason: reason,
		Err: errString("store down <b>bold</b>"), Handler: events.TypeCTEntry, Attempts: 5, Time: h.now,
	}))
}

type errString string

func (e errString) Error() string { return string(e) }

// client is a browser: a cookie jar, no redirects followed, and the console's Origin on POSTs.
type client struct {
	t    *testing.T
	h    *harness
	http *http.Client
}

func (h *harness) client() *client {
	jar, err := cookiejar.New(nil)
	require.NoError(h.t, err)
	return &client{t: h.t, h: h, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	code int
	body string
	hdr  http.Header
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) answer {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.h.srv.URL+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", c.h.srv.URL)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return answer{code: resp.StatusCode, body: string(b), hdr: resp.Header}
}

func (c *client) get(path string) answer { return c.do(http.MethodGet, path, nil, nil) }

// post sends a form with the CSRF token of the page at from.
func (c *client) post(from, path string, form url.Values) answer {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf(from))
	return c.do(http.MethodPost, path, form, nil)
}

// csrf reads the form token from a page.
func (c *client) csrf(path string) string {
	c.t.Helper()
	a := c.get(path)
	require.Equal(c.t, http.StatusOK, a.code, a.body)
	_, rest, ok := strings.Cut(a.body, `name="csrf" value="`)
	require.True(c.t, ok, "no csrf field on %s", path)
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

func (c *client) login() *client {
	c.t.Helper()
	a := c.do(http.MethodPost, "/ui/login", url.Values{"token": {token}, "next": {"/ui/"}}, nil)
	require.Equal(c.t, http.StatusSeeOther, a.code, a.body)
	return c
}

func dlqFilter() dlq.Filter { return dlq.Filter{} }

// between is the part of s after the first start and before the next end.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, start)
	require.True(t, ok, "no %q", start)
	part, _, ok := strings.Cut(rest, end)
	require.True(t, ok, "no %q after %q", end, start)
	return part
}
