package ingest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
	"github.com/hzhook/hzhook/internal/testenv"
)

// TestFindingsSQLite and TestFindingsPostgres run the findings contract on both backends.
func TestFindingsSQLite(t *testing.T)   { findingsSuite(t, sqliteOpener(t)) }
func TestFindingsPostgres(t *testing.T) { findingsSuite(t, postgresOpener(t)) }

func findingsSuite(t *testing.T, open opener) {
	t.Run("each rule fires through the pipeline exactly when it should", func(t *testing.T) { testRulesTable(t, open(t, "table")) })
	t.Run("one issuance gives one alert per finding type", func(t *testing.T) { testOneAlertPerIssuance(t, open(t, "issuance")) })
	t.Run("an authorized tbsSha256 gives nothing", func(t *testing.T) { testAuthorized(t, open(t, "authorized")) })
	t.Run("garbage DER is stored and alerted as malformed", func(t *testing.T) { testMalformed(t, open(t, "malformed")) })
	t.Run("a failed publish goes out once after redelivery", func(t *testing.T) { testPublishFailure(t, open(t, "outbox")) })
	t.Run("the expiry scan fires each threshold once", func(t *testing.T) { testExpiryScan(t, open(t, "expiry")) })
}

// alertEnv is a real JetStream with HZ_ALERTS, a writer judging with policy and publishing through
// the outbox with a publisher that can be made to fail, and the expiry scan on the same outbox.
type alertEnv struct {
	conn   *queue.Conn
	pub    *flakyPublisher
	w      *Writer
	expiry findings.ExpiryScan
	reg    *prometheus.Registry
	now    time.Time
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

func newAlertEnv(t *testing.T, s store, policyYAML string) *alertEnv {
	t.Helper()
	conn, _ := testenv.JetStream(t)
	require.NoError(t, queue.EnsureAlertStream(context.Background(), conn.JS))
	policy, err := rules.Parse([]byte(policyYAML))
	require.NoError(t, err)
	env := &alertEnv{conn: conn, pub: &flakyPublisher{next: queue.NewPublisher(conn.JS)}, reg: prometheus.NewRegistry(),
		now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	now := func() time.Time { return env.now }
	outbox := findings.NewOutbox(s, env.pub, alerts.NewMetrics(env.reg), testenv.DiscardLog(), now, findings.Tracing{})
	env.w = New(s, Options{Rules: rules.NewStatic(policy), Outbox: outbox, Now: now})
	env.expiry = findings.ExpiryScan{Store: s, Rules: rules.NewStatic(policy), Outbox: outbox, Log: testenv.DiscardLog()}
	return env
}

// alerts returns every alert stored in HZ_ALERTS.
func (e *alertEnv) alerts(t *testing.T) []alerts.Alert {
	t.Helper()
	s, err := e.conn.JS.Stream(context.Background(), queue.StreamAlerts)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	var out []alerts.Alert
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		require.NoError(t, err)
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(m.Data, &a))
		assert.Equal(t, string(a.Type), m.Header.Get(alerts.HeaderAlertType))
		out = append(out, a)
	}
	return out
}

func alertTypes(as []alerts.Alert) []rules.Type {
	out := []rules.Type{}
	for _, a := range as {
		out = append(out, a.Type)
	}
	slices.Sort(out)
	return out
}

func (e *alertEnv) handleOK(t *testing.T, msgs ...dispatch.Message) {
	t.Helper()
	for i, err := range route(context.Background(), e.w, msgs) {
		require.NoError(t, err, "message %d", i)
	}
}

func testRulesTable(t *testing.T, s store) {
	env := newAlertEnv(t, s, "rules: {expiringSoon: false}\n")
	ca := newTestCA(t)
	nb := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	yes, no := true, false
	tests := []struct {
		name   string
		hosts  []string
		days   int
		change func(c *events.Certificate)
		want   []rules.Type
	}{
		{name: "clean certificate", want: []rules.Type{}},
		{name: "wildcard", hosts: []string{"*.shop.example.com"}, want: []rules.Type{rules.TypeWildcard}},
		{name: "validity 398 days before 2026-03-15 is fine", days: 398, want: []rules.Type{}},
		{name: "validity 399 days", days: 399, want: []rules.Type{rules.TypeValidityTooLong}},
		{name: "weak RSA key as stated", change: func(c *events.Certificate) { c.KeyAlg, c.KeyLen, c.KeyStrength = "RSA", 1024, 80 },
			want: []rules.Type{rules.TypeWeakKey}},
		{name: "SHA-1 signature as stated", change: func(c *events.Certificate) { c.SigAlg = "RSAwithSHA1" },
			want: []rules.Type{rules.TypeLegacySignature}},
		{name: "revoked", change: func(c *events.Certificate) { c.RevokedOn = &nb }, want: []rules.Type{rules.TypeRevoked}},
		{name: "CT required, not compliant", change: func(c *events.Certificate) { c.CTRequired, c.CTCompliant = &yes, &no },
			want: []rules.Type{rules.TypeCTNonCompliant}},
		{name: "CT required and compliant", change: func(c *events.Certificate) { c.CTRequired, c.CTCompliant = &yes, &yes },
			want: []rules.Type{}},
		{name: "third party for an own host", change: func(c *events.Certificate) { c.Ownership = "thirdParty" },
			want: []rules.Type{rules.TypeThirdPartyForOwnHost}},
	}
	seen := 0
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hosts := tc.hosts
			if hosts == nil {
				hosts = []string{"www.example.com"}
			}
			days := tc.days
			if days == 0 {
				days = 90
			}
			is := ca.issue(t, int64(100+i), hosts, nb, nb.AddDate(0, 0, days).Add(-time.Second)) // validity counts both ends
			c := is.certNew(false, "own", nb, nb)
			if tc.change != nil {
				tc.change(&c)
			}
			env.handleOK(t, message(t, int64(100+i), events.TypeCertNew, c))
			all := env.alerts(t)
			got := alertTypes(all[seen:])
			seen = len(all)
			assert.Equal(t, tc.want, got)
			for _, a := range all[len(all)-len(got):] {
				assert.Equal(t, is.tbs, a.Cert.TBSSHA256)
				assert.Equal(t, alerts.ID(is.tbs, string(a.Type)), a.ID)
			}
		})
	}
}

// A precertificate, its certificate and three CT entries of the precertificate, delivered twice in
// several batches: each finding type is stored and published once, and counted once.
func testOneAlertPerIssuance(t *testing.T, s store) {
	env := newAlertEnv(t, s, "rules: {expiringSoon: false}\n")
	ca := newTestCA(t)
	nb := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 7, []string{"*.example.com", "example.com"}, nb, nb.AddDate(0, 0, 500))
	yes, no := true, false
	cert := is.certNew(false, "own", nb, nb)
	cert.CTRequired, cert.CTCompliant = &yes, &no
	msgs := []dispatch.Message{
		message(t, 1, events.TypeCTEntry, is.ctEntry(true, logName(0), 1, nb)),
		message(t, 2, events.TypeCTEntry, is.ctEntry(true, logName(1), 2, nb)),
		message(t, 3, events.TypeCertNew, is.certNew(true, "own", nb, nb)),
		message(t, 4, events.TypeCTEntry, is.ctEntry(true, logName(2), 3, nb)),
		message(t, 5, events.TypeCertNew, cert),
	}
	for range 2 {
		env.handleOK(t, msgs[:2]...)
		env.handleOK(t, msgs[2])
		env.handleOK(t, msgs[3:]...)
	}
	want := []rules.Type{rules.TypeWildcard, rules.TypeCTNonCompliant, rules.TypeValidityTooLong}
	slices.Sort(want)
	assert.Equal(t, want, alertTypes(env.alerts(t)))

	page, err := s.ListFindings(context.Background(), inventory.FindingQuery{Page: 1, PageSize: 50})
	require.NoError(t, err)
	assert.Equal(t, 3, page.Total)
	for _, f := range page.Items {
		assert.Equal(t, is.tbs, f.TBSSHA256)
		assert.NotNil(t, f.PublishedAt)
	}
	for _, sha := range []string{is.precertSHA, is.certSH} {
		p, err := s.ListCertificates(context.Background(), inventory.CertificateQuery{Finding: "wildcard", Page: 1, PageSize: 10})
		require.NoError(t, err)
		assert.Equal(t, 2, p.Total, "precertificate and certificate share the issuance's findings")
		f, err := s.ListFindings(context.Background(), inventory.FindingQuery{SHA256: sha, Page: 1, PageSize: 10})
		require.NoError(t, err)
		assert.Equal(t, 3, f.Total)
	}
	assert.Equal(t, 1.0, counterValue(t, env.reg, "hz_alerts_findings_total", "wildcard"))
}

func testAuthorized(t *testing.T, s store) {
	ca := newTestCA(t)
	nb := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 8, []string{"*.example.com"}, nb, nb.AddDate(0, 0, 500))
	env := newAlertEnv(t, s, "authorizations:\n  - tbsSha256: "+is.tbs+"\n    note: known\n")
	env.handleOK(t,
		message(t, 1, events.TypeCTEntry, is.ctEntry(true, logName(0), 1, nb)),
		message(t, 2, events.TypeCertNew, is.certNew(false, "own", nb, nb)))
	assert.Empty(t, env.alerts(t))
	page, err := s.ListFindings(context.Background(), inventory.FindingQuery{Page: 1, PageSize: 10})
	require.NoError(t, err)
	assert.Zero(t, page.Total)
}

func testMalformed(t *testing.T, s store) {
	env := newAlertEnv(t, s, "watch: [.example.com]\n")
	ca := newTestCA(t)
	nb := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 9, []string{"www.example.com"}, nb, nb.AddDate(0, 0, 90))
	garbage := []byte("\x30\x03garbage that is no certificate")
	e := is.ctEntry(false, logName(0), 1, nb)
	e.Chain[0] = base64.StdEncoding.EncodeToString(garbage)
	e.SHA256 = hexSum(garbage)
	env.handleOK(t, message(t, 1, events.TypeCTEntry, e))

	d, err := s.Certificate(context.Background(), e.SHA256)
	require.NoError(t, err, "stored, never dropped")
	assert.Equal(t, []string{"www.example.com"}, d.Hosts)
	assert.Equal(t, is.tbs, d.TBSSHA256)
	require.Len(t, d.CTEntries, 1)
	got := env.alerts(t)
	require.Len(t, got, 1)
	assert.Equal(t, rules.TypeMalformed, got[0].Type)
	assert.True(t, got[0].Cert.Malformed)
	assert.Equal(t, e.SHA256, got[0].Cert.SHA256)
	assert.Contains(t, got[0].Detail, "could not be parsed")
}

// The findings commit with the certificate; the publish after the commit fails; the message is
// retried (transient error) and its redelivery publishes the alert. A third delivery sends nothing.
func testPublishFailure(t *testing.T, s store) {
	env := newAlertEnv(t, s, "")
	ca := newTestCA(t)
	nb := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 10, []string{"*.example.com"}, nb, nb.AddDate(0, 0, 90))
	msg := message(t, 1, events.TypeCertNew, is.certNew(false, "own", nb, nb))

	env.pub.fail.Store(true)
	errs := route(context.Background(), env.w, []dispatch.Message{msg})
	require.Error(t, errs[0])
	var perm *events.PermanentError
	assert.False(t, errors.As(errs[0], &perm), "retried, not dead-lettered")
	_, err := s.Certificate(context.Background(), is.certSH)
	require.NoError(t, err, "the certificate and its finding are committed")
	assert.Empty(t, env.alerts(t))
	assert.Zero(t, counterValue(t, env.reg, "hz_alerts_findings_total", "wildcard"))

	env.pub.fail.Store(false)
	env.handleOK(t, msg)
	env.handleOK(t, msg)
	got := env.alerts(t)
	require.Len(t, got, 1)
	assert.Equal(t, rules.TypeWildcard, got[0].Type)
	assert.Equal(t, 1.0, counterValue(t, env.reg, "hz_alerts_findings_total", "wildcard"))
}

func testExpiryScan(t *testing.T, s store) {
	env := newAlertEnv(t, s, "watch: [.example.com]\n")
	ca := newTestCA(t)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 11, []string{"www.example.com"}, base.AddDate(0, 0, -50), base.AddDate(0, 0, 40))
	other := ca.issue(t, 12, []string{"www.elsewhere.org"}, base.AddDate(0, 0, -50), base.AddDate(0, 0, 40))
	env.handleOK(t,
		message(t, 1, events.TypeCertNew, is.certNew(true, "own", base, base)),
		message(t, 2, events.TypeCertNew, is.certNew(false, "own", base, base)),
		message(t, 3, events.TypeCertNew, other.certNew(false, "own", base, base)))
	require.Empty(t, env.alerts(t))

	steps := []struct {
		day  int
		want []int // thresholds alerted by this scan
	}{
		{0, nil},        // 40 days left
		{11, []int{30}}, // 29 left
		{12, nil},       // 28 left: 30 already alerted
		{27, []int{14}}, // 13 left
		{34, []int{7}},  // 6 left
		{35, nil},
		{41, nil}, // expired
	}
	seen := 0
	for _, st := range steps {
		stats, err := env.expiry.Run(context.Background(), base.AddDate(0, 0, st.day))
		require.NoError(t, err, "day %d", st.day)
		all := env.alerts(t)
		var got []int
		for _, a := range all[seen:] {
			assert.Equal(t, rules.TypeExpiringSoon, a.Type)
			assert.Equal(t, is.certSH, a.Cert.SHA256, "the certificate, not the precertificate")
			got = append(got, a.Threshold)
		}
		seen = len(all)
		assert.Equal(t, st.want, got, "day %d", st.day)
		assert.Equal(t, len(st.want), stats.Found, "day %d", st.day)
	}
	page, err := s.ListFindings(context.Background(), inventory.FindingQuery{Type: "expiringSoon", Page: 1, PageSize: 10})
	require.NoError(t, err)
	assert.Equal(t, 3, page.Total)
}

func counterValue(t *testing.T, g prometheus.Gatherer, name, label string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
