package worker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/lint/corpus"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
	"github.com/hzhook/hzhook/internal/testenv"
)

// The lint stage of a real worker on a real JetStream: a certificate of zlint's testdata that
// breaks RFC 5280 (a URI in its SAN), sent as pki.cert.new and in three CT entries with one
// redelivery, is linted once; the API shows its results and filters by lint and status; one
// lintError alert reaches the webhook. A precertificate, its certificate and a CT entry of each
// (one issuance) give one alert too, from the certificate. A clean certificate gives none.
func TestWorkerLintsEveryCertificateOnce(t *testing.T) {
	conn, srv := testenv.JetStream(t)
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("# every certificate in scope, every rule on\n"), 0o600))
	cfg := testConfig(t, "--nats-url", srv.URL(), "--backoff", "50ms", "--rules", rulesFile, "--lint-concurrency", "2")
	cfg.AdminToken = testToken
	cfg.Alerts.WebhookURL, cfg.Alerts.WebhookSecret = hook.URL, "alert-secret-0123456789"
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, Deps{Log: testenv.DiscardLog(), Registry: reg})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	certs := corpus.Certs(t)
	bad := corpusCert(t, certs, "SANURIBeginning.pem")
	clean := corpusCert(t, certs, "SANNotCriticalSubjectUncommonOnly.pem")
	pre, final := newIssuance(t, "www.example.com")
	body := func(b []byte, err error) []byte { require.NoError(t, err); return b }
	publishEvent(t, conn, events.TypeCertNew, 1, body(corpus.CertNewBody(bad, 1)))
	for id := 2; id <= 4; id++ {
		publishEvent(t, conn, events.TypeCTEntry, id, body(corpus.CTEntryBody(bad, int64(id))))
	}
	publishEvent(t, conn, events.TypeCertNew, 11, body(corpus.CertNewBody(bad, 1))) // a redelivery
	publishEvent(t, conn, events.TypeCertNew, 5, body(corpus.CertNewBody(clean, 5)))
	publishEvent(t, conn, events.TypeCTEntry, 6, body(corpus.CTEntryBody(pre, 6)))
	publishEvent(t, conn, events.TypeCTEntry, 7, body(corpus.CTEntryBody(final, 7)))
	publishEvent(t, conn, events.TypeCertNew, 8, body(corpus.CertNewBody(final, 8)))

	types := []string{events.TypeCTEntry, events.TypeCertNew}
	require.Eventually(t, func() bool {
		return settled(conn, ConsumerName(types)) && settled(conn, LintConsumerName(types)) &&
			settledOn(conn, queue.StreamAlerts, SinkConsumer(alerts.KindWebhook))
	}, 60*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return len(lintAlerts(t, sink)) == 2 }, 10*time.Second, 20*time.Millisecond, "alerts: %+v", lintAlerts(t, sink))

	byTBS := map[string]alerts.Alert{}
	for _, a := range lintAlerts(t, sink) {
		byTBS[a.Cert.TBSSHA256] = a
	}
	badTBS, err := corpus.TBSSHA256(bad.DER)
	require.NoError(t, err)
	require.Contains(t, byTBS, badTBS)
	assert.Contains(t, byTBS[badTBS].Lints, "e_ext_san_uniform_resource_identifier_present")
	finalTBS, err := corpus.TBSSHA256(final.DER)
	require.NoError(t, err)
	require.Contains(t, byTBS, finalTBS, "the issuance of the precertificate and its certificate")
	assert.Equal(t, final.SHA256, byTBS[finalTBS].Cert.SHA256, "precertificates do not alert by default")

	assert.Equal(t, 4.0, metric(t, reg, "hz_lint_certificates_total", "linted"), "bad, clean, precertificate, certificate: once each")
	assert.Equal(t, 5.0, metric(t, reg, "hz_lint_certificates_total", "skipped"), "three CT entries, a redelivery, a CT entry of the certificate")

	api := func(path string, into any) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, app.AdminURL()+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		if into != nil && resp.StatusCode == http.StatusOK {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(into))
		}
		return resp.StatusCode
	}
	var d inventory.CertificateDetail
	require.Equal(t, http.StatusOK, api("/api/v1/certificates/"+bad.SHA256, &d))
	require.NotNil(t, d.Lints)
	require.NotEmpty(t, d.Lints.Results)
	assert.NotEmpty(t, d.Lints.ZlintVersion)
	var found bool
	for i, r := range d.Lints.Results {
		if i > 0 {
			assert.LessOrEqual(t, rank(d.Lints.Results[i-1].Status), rank(r.Status), "most severe first")
		}
		if r.Lint == "e_ext_san_uniform_resource_identifier_present" {
			found = true
			assert.Equal(t, "error", r.Status)
			assert.Equal(t, "CABF_BR", r.Source)
			assert.NotEmpty(t, r.Citation)
		}
	}
	assert.True(t, found, "results: %+v", d.Lints.Results)

	list := func(query string) []string {
		t.Helper()
		var page struct {
			Items []inventory.Certificate `json:"items"`
		}
		require.Equal(t, http.StatusOK, api("/api/v1/certificates?"+query, &page), query)
		var out []string
		for _, c := range page.Items {
			out = append(out, c.SHA256)
		}
		return out
	}
	assert.Equal(t, []string{bad.SHA256}, list("lint=e_ext_san_uniform_resource_identifier_present"))
	assert.Equal(t, []string{bad.SHA256}, list("lint=e_ext_san_uniform_resource_identifier_present&lintStatus=error"))
	assert.Empty(t, list("lint=e_ext_san_uniform_resource_identifier_present&lintStatus=warn"))
	withErrors := list("lintStatus=error")
	assert.Contains(t, withErrors, bad.SHA256)
	assert.NotContains(t, withErrors, clean.SHA256)
	assert.Equal(t, http.StatusBadRequest, api("/api/v1/certificates?lint=e_not_a_lint", nil))

	var report inventory.Report
	require.Equal(t, http.StatusOK, api("/api/v1/report", &report))
	assert.Equal(t, 3, report.Lints.Linted, "three issuances")
	assert.Equal(t, 2, report.Lints.WithErrors)

	var fs struct {
		Items []inventory.Finding `json:"items"`
	}
	require.Equal(t, http.StatusOK, api("/api/v1/findings?type=lintError&sha256="+bad.SHA256, &fs))
	require.Len(t, fs.Items, 1)
	assert.Contains(t, fs.Items[0].Lints, "e_ext_san_uniform_resource_identifier_present")
}

// --lint=false: no lint consumer, nothing linted; the inventory is as before.
func TestWorkerLintOff(t *testing.T) {
	conn, srv := testenv.JetStream(t)
	app := startApp(t, srv.URL(), "--lint=false")
	c := corpusCert(t, corpus.Certs(t), "SANURIBeginning.pem")
	b, err := corpus.CertNewBody(c, 1)
	require.NoError(t, err)
	publishEvent(t, conn, events.TypeCertNew, 1, b)
	types := []string{events.TypeCTEntry, events.TypeCertNew}
	require.Eventually(t, func() bool { return settled(conn, ConsumerName(types)) }, 20*time.Second, 20*time.Millisecond)
	_, err = conn.JS.Consumer(context.Background(), queue.StreamEvents, LintConsumerName(types))
	assert.Error(t, err, "no lint consumer")
	req, err := http.NewRequest(http.MethodGet, app.AdminURL()+"/api/v1/certificates/"+c.SHA256, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var d inventory.CertificateDetail
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&d))
	assert.Nil(t, d.Lints)
}

// A rules file whose lints section names an unknown source stops the worker at start, naming the
// file's line.
func TestWorkerRefusesBadLintConfig(t *testing.T) {
	_, srv := testenv.JetStream(t)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules: {}\nlints:\n  sources: [CABF_BR, CABF_TLS]\n"), 0o600))
	cfg := testConfig(t, "--nats-url", srv.URL(), "--rules", rulesFile)
	_, err := New(context.Background(), cfg, Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--rules")
	assert.Contains(t, err.Error(), "line 3")
	assert.Contains(t, err.Error(), `unknown lint source "CABF_TLS"`)
}

func lintAlerts(t *testing.T, s *webhookSink) []alerts.Alert {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alerts.Alert
	for _, b := range s.bodies {
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(b, &a))
		if a.Type == rules.TypeLintError {
			out = append(out, a)
		}
	}
	return out
}

func rank(status string) int {
	for i, s := range inventory.LintStatuses() {
		if s == status {
			return i
		}
	}
	return 99
}

func corpusCert(t *testing.T, certs []corpus.Cert, name string) corpus.Cert {
	t.Helper()
	for _, c := range certs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no corpus certificate %s", name)
	return corpus.Cert{}
}

// newIssuance returns a precertificate and its certificate from a fresh CA: generated, so what
// zlint finds on them (no AIA, no policies) is real, but they are not.
func newIssuance(t *testing.T, host string) (pre, final corpus.Cert) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now().Truncate(time.Second)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Issuance CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5eed), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, 90), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	finalDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, key)
	require.NoError(t, err)
	poison := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	tmpl.ExtraExtensions = []pkix.Extension{{Id: poison, Critical: true, Value: asn1.NullBytes}}
	preDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, key)
	require.NoError(t, err)
	c := func(der []byte) corpus.Cert {
		sum := sha256.Sum256(der)
		return corpus.Cert{DER: der, SHA256: hex.EncodeToString(sum[:])}
	}
	return c(preDER), c(finalDER)
}

// metric returns counter name's value with first label value v.
func metric(t *testing.T, reg prometheus.Gatherer, name, v string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == v {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
