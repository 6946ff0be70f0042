package linting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/ingest"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/lint"
	"github.com/hzhook/hzhook/internal/lint/corpus"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
	"github.com/hzhook/hzhook/internal/testenv"
)

// The corpus tests take every certificate, or under the race detector (zlint is some twenty times
// slower then, and make test runs it) every tenth, a different tenth on each backend.
func TestStageSQLite(t *testing.T)   { stageSuite(t, sqliteOpener(t), 0) }
func TestStagePostgres(t *testing.T) { stageSuite(t, postgresOpener(t), 5) }

// stageSuite is the lint stage's contract on every store backend. Under the race detector the
// corpus test takes the certificates whose index is offset modulo 10.
func stageSuite(t *testing.T, open opener, offset int) {
	certs := corpus.Certs(t)
	t.Run("every corpus certificate is linted once, as zlint lints it", func(t *testing.T) {
		some := certs
		if raceEnabled {
			some = nil
			for i := offset; i < len(certs); i += 10 {
				some = append(some, certs[i])
			}
		}
		testCorpus(t, open(t, "corpus"), some)
	})
	t.Run("linted certificates are skipped until the lints change", func(t *testing.T) {
		testRelint(t, open(t, "relint"), certs)
	})
	t.Run("one lintError alert per issuance", func(t *testing.T) {
		testAlertOncePerIssuance(t, open(t, "alerts"), certs)
	})
	t.Run("unreadable events are left to the writer; lints: false lints nothing", func(t *testing.T) {
		testUnreadableAndOff(t, open(t, "unreadable"), certs)
	})
}

// details is what a comparison keeps of a result's details: whether there are any. Some lints
// find what they report in map order (e_ext_duplicate_extension lists the duplicated extensions in
// any order; a fatal result names whichever extension failed to parse first), so two runs on one
// certificate may word them differently.
func details(text string) string {
	if text == "" {
		return ""
	}
	return "some"
}

// policySource is a rules store whose policy a test replaces.
type policySource struct{ p atomic.Pointer[rules.Policy] }

func (s *policySource) Policy() *rules.Policy { return s.p.Load() }

func newPolicy(t *testing.T, yaml string) *policySource {
	t.Helper()
	p, err := rules.Parse([]byte(yaml))
	require.NoError(t, err)
	s := &policySource{}
	s.p.Store(p)
	return s
}

// write stores msgs with the event writer (no rules), as the worker's other consumer does, and
// returns how many it refused as permanently bad (PostgreSQL refuses a NUL in a certificate's
// text; the writer dead-letters such an event).
func write(t *testing.T, s *inventory.Store, msgs ...dispatch.Message) (refused int) {
	t.Helper()
	hs := ingest.New(s, ingest.Options{}).Handlers()
	for _, m := range msgs {
		ev, err := events.ParseEnvelope(m.Data)
		require.NoError(t, err)
		m.Event = ev
		for _, err := range hs[ev.Type].Handle(context.Background(), []dispatch.Message{m}) {
			var perm *events.PermanentError
			if errors.As(err, &perm) {
				refused++
				continue
			}
			require.NoError(t, err)
		}
	}
	return refused
}

// testCorpus puts every certificate of zlint's testdata through the stage, half as pki.cert.new
// and half as ct.entry in batches of 50, and holds what is stored against lint.Linter (which
// internal/lint holds against zlint itself): the same results and counts, unparsable DER marked,
// and a lintError finding for exactly the issuances the default policy alerts on.
func testCorpus(t *testing.T, s *inventory.Store, certs []corpus.Cert) {
	reg := prometheus.NewRegistry()
	policy := newPolicy(t, "")
	stage, err := New(s, Options{Registerer: reg, Rules: policy})
	require.NoError(t, err)
	var msgs []dispatch.Message
	for i, c := range certs {
		if i%2 == 0 {
			msgs = append(msgs, certNew(t, c, i+1))
		} else {
			msgs = append(msgs, ctEntry(t, c, i+1))
		}
	}
	// Two batches at a time, as the dispatcher runs them.
	var g errgroup.Group
	g.SetLimit(2)
	for start := 0; start < len(msgs); start += 50 {
		batch := msgs[start:min(start+50, len(msgs))]
		g.Go(func() error {
			for i, err := range stage.Handle(context.Background(), batch) {
				if err != nil {
					return fmt.Errorf("message %d: %w", batch[i].Seq, err)
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	refused := write(t, s, msgs...) // the lint stage came first: the results wait for the rows

	ref, err := lint.New(lint.DefaultConfig())
	require.NoError(t, err)
	alerting := map[string]bool{} // by issuance
	var unparsable, missing int
	for _, c := range certs {
		d, err := s.Certificate(context.Background(), c.SHA256)
		if errors.Is(err, inventory.ErrNotFound) {
			missing++
			got, err := s.LintedWith(context.Background(), stage.def.Fingerprint(), []string{c.SHA256})
			require.NoError(t, err)
			assert.True(t, got[c.SHA256], "%s: linted although the writer refused it", c.Name)
			continue
		}
		require.NoError(t, err, c.Name)
		require.NotNil(t, d.Lints, c.Name)
		r, err := ref.Lint(c.DER)
		if err != nil {
			assert.True(t, d.Lints.Unparsable, c.Name)
			assert.Empty(t, d.Lints.Results, c.Name)
			unparsable++
			continue
		}
		assert.False(t, d.Lints.Unparsable, c.Name)
		want := []inventory.LintResult{}
		for _, res := range r.Results {
			want = append(want, inventory.LintResult{Lint: res.Lint, Status: string(res.Status), Source: res.Source,
				Citation: res.Citation, Description: res.Description, Details: details(res.Details)})
		}
		got := slices.Clone(d.Lints.Results)
		for i := range got {
			got[i].Details = details(got[i].Details)
		}
		assert.Equal(t, want, got, c.Name)
		assert.Equal(t, inventory.LintCounts{Fatal: r.Count(lint.StatusFatal), Error: r.Count(lint.StatusError),
			Warn: r.Count(lint.StatusWarn), Notice: r.Count(lint.StatusNotice), Pass: r.Passed, NA: r.NotApplicable, NE: r.NotEffective},
			d.Lints.Counts, c.Name)
		if !r.Precert && len(ref.Config().Alert.Alerts(r)) > 0 {
			alerting[d.TBSSHA256] = true
		}
	}
	assert.Equal(t, refused, missing)
	for _, c := range certs {
		d, err := s.Certificate(context.Background(), c.SHA256)
		if errors.Is(err, inventory.ErrNotFound) {
			continue
		}
		require.NoError(t, err)
		fs, err := s.ListFindings(context.Background(), inventory.FindingQuery{SHA256: c.SHA256, Type: string(rules.TypeLintError), Page: 1, PageSize: 10})
		require.NoError(t, err)
		if !alerting[d.TBSSHA256] {
			assert.Empty(t, fs.Items, c.Name)
			continue
		}
		require.Len(t, fs.Items, 1, c.Name)
		assert.NotEmpty(t, fs.Items[0].Lints, c.Name)
	}
	assert.Equal(t, float64(len(certs)-unparsable), counter(t, reg, "hz_lint_certificates_total", "linted"))
	assert.Equal(t, float64(unparsable), counter(t, reg, "hz_lint_certificates_total", "unparsable"))
	assert.Zero(t, counter(t, reg, "hz_lint_certificates_total", "skipped"))
	t.Logf("%d certificates: %d issuances alerting, %d zcrypto cannot parse, %d the store refused", len(certs), len(alerting), unparsable, refused)
	assert.Positive(t, len(alerting))
}

// testRelint: a certificate named again (another CT entry, a redelivery, the same event in one
// batch) is not linted again; excluding a lint changes the fingerprint and lints it once more.
func testRelint(t *testing.T, s *inventory.Store, certs []corpus.Cert) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	policy := newPolicy(t, "")
	clock := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	stage, err := New(s, Options{Registerer: reg, Rules: policy, Now: now})
	require.NoError(t, err)
	c := byName(t, certs, "SANURIBeginning.pem")
	handleOK(t, stage, ctEntry(t, c, 1), ctEntry(t, c, 2), certNew(t, c, 3))
	assert.Equal(t, 1.0, counter(t, reg, "hz_lint_certificates_total", "linted"), "linted once in its batch")
	assert.Equal(t, 2.0, counter(t, reg, "hz_lint_certificates_total", "skipped"))
	write(t, s, certNew(t, c, 3))
	first, err := s.Certificate(ctx, c.SHA256)
	require.NoError(t, err)
	require.NotEmpty(t, first.Lints.Results)
	lintName := first.Lints.Results[0].Lint

	clock = clock.Add(time.Hour)
	again := ctEntry(t, c, 4)
	again.Attempt = 2
	handleOK(t, stage, again, certNew(t, c, 3))
	assert.Equal(t, 1.0, counter(t, reg, "hz_lint_certificates_total", "linted"))
	d, err := s.Certificate(ctx, c.SHA256)
	require.NoError(t, err)
	assert.Equal(t, first.Lints, d.Lints, "not linted again")

	p, err := rules.Parse([]byte("lints: {exclude: [" + lintName + "]}"))
	require.NoError(t, err)
	policy.p.Store(p)
	handleOK(t, stage, ctEntry(t, c, 5))
	assert.Equal(t, 2.0, counter(t, reg, "hz_lint_certificates_total", "linted"), "other lints: due again")
	d, err = s.Certificate(ctx, c.SHA256)
	require.NoError(t, err)
	assert.Equal(t, clock, d.Lints.LintedAt)
	for _, r := range d.Lints.Results {
		assert.NotEqual(t, lintName, r.Lint, "the excluded lint's result is gone")
	}
	assert.Len(t, d.Lints.Results, len(first.Lints.Results)-1)
}

type flakyPublisher struct {
	next alerts.Publisher
	fail atomic.Bool
}

func (p *flakyPublisher) Publish(ctx context.Context, msg *nats.Msg, id string) (bool, error) {
	if p.fail.Load() {
		return false, errors.New("nats: no responders available for request")
	}
	return p.next.Publish(ctx, msg, id)
}

// testAlertOncePerIssuance: a real certificate zlint errors on, seen as pki.cert.new and in three
// CT entries (one redelivered), and a precertificate with its certificate under a policy that
// alerts on precertificates too, give one lintError alert per issuance, naming its lints; a clean
// certificate gives none. An alert that could not be published goes out with the redelivery.
func testAlertOncePerIssuance(t *testing.T, s *inventory.Store, certs []corpus.Cert) {
	conn, _ := testenv.JetStream(t)
	require.NoError(t, queue.EnsureAlertStream(context.Background(), conn.JS))
	reg := prometheus.NewRegistry()
	pub := &flakyPublisher{next: queue.NewPublisher(conn.JS)}
	outbox := findings.NewOutbox(s, pub, alerts.NewMetrics(reg), testenv.DiscardLog(), time.Now, findings.Tracing{})
	stage, err := New(s, Options{Registerer: reg, Rules: newPolicy(t, "lints: {alert: {precerts: true}}"), Outbox: outbox})
	require.NoError(t, err)

	bad := byName(t, certs, "SANURIBeginning.pem") // e_ext_san_uniform_resource_identifier_present
	clean := byName(t, certs, "SANNotCriticalSubjectUncommonOnly.pem")
	pr := newPair(t, "www.example.com")

	pub.fail.Store(true)
	errs := stage.Handle(context.Background(), []dispatch.Message{certNew(t, bad, 1), ctEntry(t, bad, 2)})
	require.ErrorContains(t, errs[0], "lint: alerts of issuance")
	require.NoError(t, errs[1], "the CT entry's certificate was the other message's to lint")
	pub.fail.Store(false)
	redelivered := certNew(t, bad, 1)
	redelivered.Attempt = 2
	handleOK(t, stage, redelivered, ctEntry(t, bad, 3), ctEntry(t, bad, 4), certNew(t, clean, 5))
	handleOK(t, stage, ctEntry(t, pr.pre, 6), ctEntry(t, pr.pre, 7))
	handleOK(t, stage, certNew(t, pr.cert, 8), certNew(t, pr.pre, 9))

	got := storedAlerts(t, conn)
	require.Len(t, got, 2, "one per issuance: %+v", got)
	tbsBad, err := corpus.TBSSHA256(bad.DER)
	require.NoError(t, err)
	byTBS := map[string]alerts.Alert{}
	for _, a := range got {
		assert.Equal(t, rules.TypeLintError, a.Type)
		assert.NotEmpty(t, a.Lints)
		byTBS[a.Cert.TBSSHA256] = a
	}
	require.Contains(t, byTBS, tbsBad)
	assert.Contains(t, byTBS[tbsBad].Lints, "e_ext_san_uniform_resource_identifier_present")
	assert.Contains(t, byTBS[tbsBad].Detail, "e_ext_san_uniform_resource_identifier_present (error, ")
	require.Contains(t, byTBS, pr.tbs)
	assert.Equal(t, pr.pre.SHA256, byTBS[pr.tbs].Cert.SHA256, "the precertificate came first and alerted for both")
	assert.Equal(t, 2.0, counter(t, reg, "hz_alerts_findings_total", string(rules.TypeLintError)))
}

func storedAlerts(t *testing.T, conn *queue.Conn) []alerts.Alert {
	t.Helper()
	st, err := conn.JS.Stream(context.Background(), queue.StreamAlerts)
	require.NoError(t, err)
	info, err := st.Info(context.Background())
	require.NoError(t, err)
	var out []alerts.Alert
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		require.NoError(t, err)
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(m.Data, &a))
		out = append(out, a)
	}
	return out
}

// testUnreadableAndOff: events the stage cannot read are acknowledged and counted (the event
// writer dead-letters them), and a rules file saying lints: false makes the stage lint nothing.
func testUnreadableAndOff(t *testing.T, s *inventory.Store, certs []corpus.Cert) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	policy := newPolicy(t, "")
	stage, err := New(s, Options{Registerer: reg, Rules: policy})
	require.NoError(t, err)
	c := byName(t, certs, "SANURIBeginning.pem")
	tampered := certNew(t, c, 2)
	var body map[string]any
	require.NoError(t, json.Unmarshal(tampered.Data, &body))
	body["data"].(map[string]any)["sha256"] = certs[0].SHA256 // not the DER's hash
	tampered.Data, err = json.Marshal(body)
	require.NoError(t, err)
	handleOK(t, stage, msg(1, []byte("not json")), tampered, msg(3, []byte(`{"id":3,"type":"ct.entry","createdOn":"2026-01-01T00:00:00Z","data":{"sha256":"x"}}`)))
	assert.Equal(t, 3.0, counter(t, reg, "hz_lint_certificates_total", "invalid"))
	got, err := s.LintedWith(ctx, stage.def.Fingerprint(), []string{certs[0].SHA256, c.SHA256})
	require.NoError(t, err)
	assert.Empty(t, got)

	off, err := rules.Parse([]byte("lints: false"))
	require.NoError(t, err)
	policy.p.Store(off)
	handleOK(t, stage, certNew(t, c, 4))
	assert.Equal(t, 1.0, counter(t, reg, "hz_lint_certificates_total", "disabled"))
	write(t, s, certNew(t, c, 4))
	d, err := s.Certificate(ctx, c.SHA256)
	require.NoError(t, err)
	assert.Nil(t, d.Lints)
}
