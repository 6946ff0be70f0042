package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/lint/corpus"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/worker"
)

// chromiumPath is the browser the console tests drive: $CHROMIUM, or Debian's chromium. Without
// one the browser tests fail under CI=true (scripts/with-services.sh installs it) and are
// skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no browser at %s: the console's browser tests need Chromium under CI (apt-get install -y chromium, or set CHROMIUM)", p)
		}
		t.Skipf("no browser at %s: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM to run the console's browser tests", p)
	}
	return p
}

// newBrowser starts headless Chromium with a fresh profile, as the machine notes prescribe (no
// sandbox as root, no network of its own), in a 1280×800 window. Everything ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1280, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)))
	return ctx
}

// alertSink is the alert webhook: it accepts every alert and remembers the certificates alerted.
type alertSink struct {
	mu     sync.Mutex
	alerts []alerts.Alert
}

func (s *alertSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a alerts.Alert
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &a) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.alerts = append(s.alerts, a)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// alerted reports whether an alert about the issuance tbs arrived.
func (s *alertSink) alerted(tbs string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.alerts {
		if a.Cert.TBSSHA256 == tbs {
			return true
		}
	}
	return false
}

// pipeline is a real worker: SQLite in a temporary directory, an embedded JetStream, a rules file
// under which every certificate for example.com has an unexpected issuer, and a webhook alert sink.
type pipeline struct {
	t     *testing.T
	app   *worker.App
	conn  *queue.Conn
	sink  *alertSink
	ids   int
	admin string
	db    string // the worker's inventory
}

func startPipeline(t *testing.T) *pipeline {
	t.Helper()
	conn, srv := testenv.JetStream(t)
	sink := &alertSink{}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("watch:\n  - name: .example.com\n    issuers: [{sha256: ["+strings.Repeat("ab", 32)+"]}]\n  - gov.us\n"), 0o600))
	cfg := worker.DefaultConfig()
	cfg.NATSURL, cfg.DB, cfg.AdminListen, cfg.AdminToken = srv.URL(), "sqlite://"+filepath.Join(dir, "hzhook.db"), "127.0.0.1:0", token
	cfg.MaxDeliver, cfg.Backoff, cfg.Concurrency = 3, []time.Duration{100 * time.Millisecond}, 2
	cfg.Alerts.Rules, cfg.Alerts.WebhookURL, cfg.Alerts.WebhookSecret, cfg.Alerts.ExpiryScanEvery = rulesFile, hook.URL, "alert-secret-0123456789", 0
	ctx, cancel := context.WithCancel(context.Background())
	app, err := worker.New(ctx, cfg, worker.Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	return &pipeline{t: t, app: app, conn: conn, sink: sink, admin: app.AdminURL(), db: cfg.DB}
}

// publish stores a webhook delivery of body in HZ_EVENTS, as the receiver does.
func (p *pipeline) publish(typ string, body []byte) {
	p.t.Helper()
	p.publishFrom(queue.SourceWebhook, typ, body, nil)
}

// publishFrom stores an event received from source in HZ_EVENTS with the extra headers hdr.
func (p *pipeline) publishFrom(source, typ string, body []byte, hdr map[string]string) {
	p.t.Helper()
	p.ids++
	ev := queue.StoredEvent{Org: "demo", HookID: "hook", EventID: "b" + strconv.Itoa(p.ids), Type: typ, Source: source, ReceivedAt: time.Now(), Body: body}
	msg := ev.Msg()
	for k, v := range hdr {
		msg.Header.Set(k, v)
	}
	_, err := queue.NewPublisher(p.conn.JS).Publish(context.Background(), msg, ev.MsgID())
	require.NoError(p.t, err)
}

// store opens the worker's inventory beside it, as another replica would.
func (p *pipeline) store() *inventory.Store {
	p.t.Helper()
	s, err := inventory.Open(context.Background(), p.db, testenv.DiscardLog())
	require.NoError(p.t, err)
	p.t.Cleanup(s.Close)
	return s
}

// linted reports whether the lint stage stored its results for sha.
func (p *pipeline) linted(sha string) bool {
	var d inventory.CertificateDetail
	return p.api("/api/v1/certificates/"+sha, &d) == http.StatusOK && d.Lints != nil
}

// issue publishes the CT entries of an issuance's precertificate and certificate.
func (p *pipeline) issue(is issuance) {
	p.t.Helper()
	now := time.Now()
	p.publish(events.TypeCTEntry, is.ctEntry(p.t, int64(p.ids+1), true, int64(p.ids+1), now.Add(-time.Minute)))
	p.publish(events.TypeCTEntry, is.ctEntry(p.t, int64(p.ids+1), false, int64(p.ids+1), now))
}

// api GETs an admin API path with the token and decodes the answer into out; it returns the
// status.
func (p *pipeline) api(path string, out any) int {
	req, _ := http.NewRequest(http.MethodGet, p.admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (p *pipeline) stored(sha string) bool {
	return p.api("/api/v1/certificates/"+sha, nil) == http.StatusOK
}

// findings counts the findings of the issuance of sha, of type typ or (none) all.
func (p *pipeline) findings(sha string, typ ...string) int {
	var l struct{ Total int }
	path := "/api/v1/findings?sha256=" + sha
	if len(typ) > 0 {
		path += "&type=" + typ[0]
	}
	if p.api(path, &l) != http.StatusOK {
		return -1
	}
	return l.Total
}

// eventually waits for cond with room for a loaded 2-core machine; it never sleeps a fixed time.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, 60*time.Second, 50*time.Millisecond, what)
}

// shot writes a 1280×800 screenshot of the page to docs/console/<name>.png when
// HZ_UPDATE_SCREENSHOTS=1 (the README shows them).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("HZ_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	dir := filepath.Join("..", "..", "docs", "console")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644))
}

// load runs an action that navigates (a click on a link or a submit) and waits for the new page.
func load(ctx context.Context, a chromedp.Action[chromedp.Void]) error {
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, a))
	return err
}

// text is the text of the first element sel selects, waiting for it at most 30 s.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return s
}

// The console in a real browser over a real worker: log in, see the certificate sync failing on
// the overview, filter certificates by host, open a certificate and its twin, read what zlint
// found on a real certificate it flags, tell an imported finding (no alert) from the others,
// authorize a key for its names and see the alert of its renewal suppressed, redrive a dead
// letter and see it processed, see the redrive of a rejected one refused, log out. A certificate
// whose subject and names are script and markup renders as text and runs nothing, on every page.
func TestConsoleInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	p := startPipeline(t)
	now := time.Now().UTC()

	www := newIssuance(t, "www.example.com", []string{"www.example.com", "example.com"}, now.Add(-2*time.Hour), now.AddDate(0, 0, 25))
	api := newIssuance(t, "api.example.com", []string{"api.example.com"}, now.Add(-3*time.Hour), now.AddDate(0, 2, 0))
	other := newIssuance(t, "shop.example.com", []string{"shop.example.com"}, now.Add(-4*time.Hour), now.AddDate(0, 0, 80))
	hostile := newIssuance(t, `<script>alert(1);window.__xss=1</script>`,
		[]string{`"><img src=x onerror="alert(2);window.__xss=2">`, `<script>alert(3)</script>`, "xss.example.com"}, now.Add(-time.Hour), now.AddDate(0, 0, 5))
	for _, is := range []issuance{www, api, other, hostile} {
		p.issue(is)
	}
	for _, is := range []issuance{www, api, other, hostile} {
		eventually(t, func() bool { return p.stored(is.sha) && p.stored(is.preSHA) && p.sink.alerted(is.tbs) }, "issuance stored and alerted")
	}

	// The certificate sync, as the worker records it: a failure after a day of successes.
	store := p.store()
	for _, r := range []inventory.CertSyncRun{
		{Org: "demo", StartedAt: now.Add(-26 * time.Hour), FinishedAt: now.Add(-26*time.Hour + 3*time.Minute), Outcome: inventory.CertSyncOK,
			Certificates: 9870, New: 9870},
		{Org: "demo", StartedAt: now.Add(-2 * time.Hour), FinishedAt: now.Add(-2*time.Hour + 4*time.Second), Outcome: inventory.CertSyncFailed,
			Certificates: 250, New: 3, Changed: 1, Error: `list certificates: page 2 of 40: 401 Unauthorized: <h1>Invalid credentials</h1><img src=x onerror="window.__xss=4">`},
	} {
		require.NoError(t, store.RecordCertSyncRun(context.Background(), r))
	}

	// A real certificate zlint flags (a URI in its subjectAltName), from zlint's own testdata.
	flagged := lintCert(t, "SANURIBeginning.pem")
	p.publish(events.TypeCertNew, must(corpus.CertNewBody(flagged, 1)))
	// An issuance imported with hzctl certs import (no --alerts): its finding is history.
	imported := newIssuance(t, "legacy.example.com", []string{"legacy.example.com"}, now.Add(-30*24*time.Hour), now.AddDate(0, 0, 40))
	p.publishFrom(queue.SourceImport, events.TypeCTEntry, imported.ctEntry(t, 7001, false, 7001, now.Add(-2*time.Hour)),
		map[string]string{queue.HeaderAlerts: queue.AlertsOff})
	eventually(t, func() bool {
		return p.stored(imported.sha) && p.findings(imported.sha, "unexpectedIssuer") == 1 && p.findings(imported.sha, "lintError") == 1
	}, "the import stored with its findings, the writer's and the lint stage's")
	eventually(t, func() bool { return p.stored(flagged.SHA256) && p.findings(flagged.SHA256, "lintError") == 1 }, "the flagged certificate linted")

	// Every page is checked for script that should not be there: none is served, and none may
	// come from a certificate. A dialog would mean a payload ran.
	dialogs := make(chan string, 8)
	go func() {
		for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			dialogs <- ev.Message
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	noScriptRan := func(where string) {
		t.Helper()
		ran, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__xss !== undefined || document.querySelectorAll("script").length > 0 || document.querySelector('img[src="x"]') !== null`))
		require.NoError(t, err)
		assert.False(t, ran, "a payload became markup or ran on %s", where)
	}

	// Log in: the console sends us to the login page and back.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/certificates"), chromedp.WaitVisible(chromedp.ID("token"))))
	shot(t, ctx, "login")
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("token"), token)))
	require.NoError(t, load(ctx, chromedp.Click(chromedp.ID("login"))))
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("certificates"))))
	assert.Contains(t, text(t, ctx, "#results h2"), "10 certificates")
	noScriptRan("the certificate list")

	// The overview: the sync failed, and says why, as text.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/"), chromedp.WaitVisible(chromedp.ID("overview"))))
	assert.Contains(t, text(t, ctx, "#feeds"), "receiving")
	assert.Contains(t, text(t, ctx, "#lag"), worker.ConsumerName(worker.DefaultConfig().Types))
	assert.Contains(t, text(t, ctx, "#lag"), worker.LintConsumerName(worker.DefaultConfig().Types), "the lint stage's backlog too")
	assert.Contains(t, text(t, ctx, "#sync-status"), "failing")
	assert.Contains(t, text(t, ctx, "#sync-status"), "The last run failed, 1 hour ago; last success 25 hours ago.")
	assert.Contains(t, text(t, ctx, "#sync-error"), `401 Unauthorized: <h1>Invalid credentials</h1><img src=x onerror="window.__xss=4">`)
	assert.False(t, must(chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#sync-error h1, #sync-error img") !== null`))), "the error is text")
	assert.Contains(t, text(t, ctx, "#findings-total"), "2 of them suppressed (import)")
	noScriptRan("the overview")
	shot(t, ctx, "overview")

	// Filter by host: the wildcard-aware filter of the API, in a URL to share.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/certificates"), chromedp.WaitVisible(chromedp.ID("f-host")),
		chromedp.SendKeys(chromedp.ID("f-host"), "www.example.com")))
	require.NoError(t, load(ctx, chromedp.Click(chromedp.ID("apply"))))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, p.admin+"/ui/certificates?host=www.example.com", loc, "empty fields are dropped from the shared URL")
	assert.Contains(t, text(t, ctx, "#results h2"), "2 certificates")
	shot(t, ctx, "certificates")

	// Open the certificate, then its precertificate twin.
	require.NoError(t, load(ctx, chromedp.Click(chromedp.CSS(`#certificates a[href="/ui/certificates/`+www.sha+`"]`))))
	assert.Equal(t, www.sha, text(t, ctx, "#hash-sha256"))
	assert.Equal(t, www.tbs, text(t, ctx, "#hash-tbs"))
	assert.Equal(t, www.spki, text(t, ctx, "#hash-spki"))
	assert.Contains(t, text(t, ctx, "#ct-entries"), "ct.example.net/console")
	assert.Contains(t, text(t, ctx, "#pem"), "-----BEGIN CERTIFICATE-----")
	shot(t, ctx, "certificate")
	require.NoError(t, load(ctx, chromedp.Click(chromedp.CSS("a.twin"))))
	assert.Equal(t, www.preSHA, text(t, ctx, "#hash-sha256"))
	assert.Contains(t, text(t, ctx, ".page-head"), "precert")

	// The hostile certificate: its names are text on its page, the list and the findings.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/certificates/"+hostile.sha), chromedp.WaitVisible(chromedp.ID("cert-names"))))
	assert.Equal(t, "CN=<script>alert(1);window.__xss=1</script>", text(t, ctx, "#cert-subject"))
	assert.Contains(t, text(t, ctx, "#cert-names"), `"><img src=x onerror="alert(2);window.__xss=2">`)
	assert.Contains(t, text(t, ctx, "#cert-names"), `<script>alert(3)</script>`)
	noScriptRan("the hostile certificate's page")
	for _, path := range []string{"/ui/certificates?q=xss", "/ui/report", "/ui/", "/ui/certificates?lintStatus=error",
		"/ui/certificates/" + flagged.SHA256, "/ui/dlq", "/ui/findings"} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+path), chromedp.WaitReady(chromedp.CSS("main"))))
		noScriptRan(path)
	}
	assert.Contains(t, text(t, ctx, "#findings"), "<script>alert(1);window.__xss=1</script>")

	// What zlint found on the flagged certificate: its page says it at the top and in its Lints
	// section, and the lint that alerted is the lintError finding's.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/certificates/"+flagged.SHA256+"#lints"), chromedp.WaitVisible(chromedp.ID("lint-results"))))
	assert.Contains(t, text(t, ctx, "#lint-badge"), "zlint: ")
	assert.Contains(t, text(t, ctx, "#lint-summary"), "error")
	assert.Contains(t, text(t, ctx, "#lint-summary"), "passed")
	assert.Regexp(t, `linted with zlint (v\d+\.\d+\.\d+|\(version unknown\)) `, text(t, ctx, "#lint-summary"), "a test binary has no module versions")
	assert.Contains(t, text(t, ctx, "#lint-results"), lintURI+" lintError")
	assert.Contains(t, text(t, ctx, "#cert-findings"), "lintError")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/certificates/"+flagged.SHA256+"#findings"), chromedp.WaitVisible(chromedp.ID("lint-results"))))
	shot(t, ctx, "certificate-lints")
	require.NoError(t, load(ctx, chromedp.Click(chromedp.CSS(`#lint-results a.lint[href="/ui/certificates?lint=`+lintURI+`"]`))))
	assert.Contains(t, text(t, ctx, "#results h2"), "1 certificate", "the lint's link lists every certificate with it")
	assert.Equal(t, lintURI, must(chromedp.Run(ctx, chromedp.Value(chromedp.ID("f-lint")))))

	// The imported finding is marked: no alert went out for it, and none did.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/findings"), chromedp.WaitVisible(chromedp.ID("findings"))))
	assert.Contains(t, text(t, ctx, `tr[data-sha256="`+imported.sha+`"]`), "suppressed (import)")
	assert.NotContains(t, text(t, ctx, `tr[data-sha256="`+imported.sha+`"]`), "alerted")

	// Authorize api.example.com's key for its name: its finding is authorized by the console,
	// and the renewal on the same key makes no finding and no alert, while a new key alerts.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/findings"), chromedp.WaitVisible(chromedp.ID("findings"))))
	shot(t, ctx, "findings")
	require.NoError(t, load(ctx, chromedp.Click(chromedp.CSS(`tr[data-sha256="`+api.preSHA+`"] a.authorize-key, tr[data-sha256="`+api.sha+`"] a.authorize-key`))))
	assert.Equal(t, "api.example.com", strings.TrimSpace(must(chromedp.Run(ctx, chromedp.Value(chromedp.ID("names"))))))
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("note"), "API key, ticket OPS-7")))
	shot(t, ctx, "authorize")
	require.NoError(t, load(ctx, chromedp.Click(chromedp.ID("authorize"))))
	assert.Contains(t, text(t, ctx, "#flash"), "Authorized: key "+api.spki[:12])
	assert.Contains(t, text(t, ctx, `tr[data-sha256="`+api.sha+`"], tr[data-sha256="`+api.preSHA+`"]`), "by console")

	renewal, control := api.renewal(t), newIssuance(t, "api.example.com", []string{"api.example.com"}, now, now.AddDate(0, 2, 0))
	p.issue(renewal)
	p.issue(control)
	eventually(t, func() bool { return p.stored(renewal.sha) && p.stored(renewal.preSHA) && p.sink.alerted(control.tbs) }, "renewal stored, control alerted")
	assert.Zero(t, p.findings(renewal.sha), "the authorized key's renewal makes no finding")
	assert.False(t, p.sink.alerted(renewal.tbs), "and no alert")

	// A dead letter: a ct.entry that failed while the store was down. Redrive it from its page.
	lost := newIssuance(t, "lost.example.com", []string{"lost.example.com"}, now.Add(-time.Hour), now.AddDate(0, 1, 0))
	body := lost.ctEntry(t, 9001, false, 9001, now)
	ev := queue.StoredEvent{Org: "demo", HookID: "hook", EventID: "9001", Type: events.TypeCTEntry, Source: queue.SourceWebhook, ReceivedAt: now, Body: body}
	msg := ev.Msg()
	msg.Header.Set("Nats-Msg-Id", ev.MsgID())
	require.NoError(t, queue.NewPublisher(p.conn.JS).DeadLetter(context.Background(), queue.DeadLetter{Stage: "worker", Subject: msg.Subject,
		Header: msg.Header, Data: body, Class: queue.ClassTransient, Reason: "max_deliver", Err: errString("store: begin: database is locked"),
		Handler: events.TypeCTEntry, Attempts: 3, Time: now}))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/dlq"), chromedp.WaitVisible(chromedp.ID("letters"))))
	assert.Contains(t, text(t, ctx, "#letters"), "database is locked")
	shot(t, ctx, "dead-letters")
	require.NoError(t, load(ctx, chromedp.Click(chromedp.CSS("#letters tbody a"))))
	assert.Contains(t, text(t, ctx, "#letter-body"), lost.sha)
	shot(t, ctx, "dead-letter")
	require.NoError(t, load(ctx, chromedp.Click(chromedp.ID("redrive"))))
	assert.Contains(t, text(t, ctx, "#confirm-message"), "Redrive 1 dead letter")
	require.NoError(t, load(ctx, chromedp.Click(chromedp.ID("confirm"))))
	assert.Contains(t, text(t, ctx, "#flash"), "redriven to hz.events.ct_entry")
	eventually(t, func() bool { return p.stored(lost.sha) }, "the redriven event processed")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/certificates?host=lost.example.com"), chromedp.WaitVisible(chromedp.ID("certificates"))))
	assert.Contains(t, text(t, ctx, "#results h2"), "1 certificate")

	// A Pub/Sub message refused at intake: its redrive goes through the receiver's verification,
	// and with no receiver running the console says so on the letter's page, which stays.
	refused := lost.ctEntry(t, 9002, false, 9002, now)
	require.NoError(t, queue.NewPublisher(p.conn.JS).DeadLetter(context.Background(), queue.DeadLetter{Stage: "pubsub",
		Subject: queue.Subject(events.TypeCTEntry), Header: msg.Header, Data: refused, Class: queue.ClassRejected, Reason: "bad_signature",
		Err: errString("verify signature: signature mismatch"), Attempts: 1, Time: now}))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/dlq?class=rejected"), chromedp.WaitVisible(chromedp.ID("letters"))))
	require.NoError(t, load(ctx, chromedp.Click(chromedp.CSS("#letters tbody a"))))
	require.NoError(t, load(ctx, chromedp.Click(chromedp.ID("redrive"))))
	assert.Contains(t, text(t, ctx, "#confirm-message"), "the receiver verifies it again")
	require.NoError(t, load(ctx, chromedp.Click(chromedp.ID("confirm"))))
	assert.Contains(t, text(t, ctx, ".flash.problem"), "Not redriven: ")
	assert.Contains(t, text(t, ctx, ".flash.problem"), "the receiver's verification is not available now")
	assert.Contains(t, text(t, ctx, "#letter-error"), "signature mismatch", "still the letter's page: it stays")
	noScriptRan("the refused redrive")
	shot(t, ctx, "redrive-refused")

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/report"), chromedp.WaitVisible(chromedp.ID("report"))))
	shot(t, ctx, "report")

	// Log out: the next page asks for the token again.
	require.NoError(t, load(ctx, chromedp.Click(chromedp.ID("logout"))))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.admin+"/ui/"), chromedp.WaitVisible(chromedp.ID("token"))))

	assert.False(t, p.sink.alerted(imported.tbs), "the imported finding alerted no one")

	select {
	case m := <-dialogs:
		t.Fatalf("a dialog opened: %q", m)
	default:
	}
}

// lintCert is the corpus certificate name: one of zlint's own test certificates.
func lintCert(t *testing.T, name string) corpus.Cert {
	t.Helper()
	for _, c := range corpus.Certs(t) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s in zlint's testdata", name)
	return corpus.Cert{}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
