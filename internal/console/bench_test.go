package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/authz"
	"github.com/hzhook/hzhook/internal/console"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/testenv"
)

// consolePages are the pages BenchmarkConsole times: the certificate list, a filtered one (a host
// that wildcards cover, expiring within 30 days) and the overview.
var consolePages = []struct{ name, path string }{
	{"list", "/ui/certificates"},
	{"filtered", "/ui/certificates?host=www.example.com&expiresWithinDays=30"},
	{"overview", "/ui/"},
}

// BenchmarkConsole fills a store with HZ_BENCH_CERTS certificates (default 100,000) through
// Store.Apply, SQLite and, when HZ_TEST_POSTGRES_URL is set, PostgreSQL, and times
// HZ_BENCH_REQUESTS requests (default 200) of each console page, one after another: it reports
// the p50 and p99 in milliseconds (<db>-<page>-p50-ms, -p99-ms). Run it once: -benchtime 1x
// (hzbench console does).
func BenchmarkConsole(b *testing.B) {
	n := benchEnv(b, "HZ_BENCH_CERTS", 100000)
	requests := benchEnv(b, "HZ_BENCH_REQUESTS", 200)
	backends := map[string]func(b *testing.B) string{
		"sqlite": func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "bench.db") },
	}
	if os.Getenv("HZ_TEST_POSTGRES_URL") != "" {
		backends["postgres"] = func(b *testing.B) string { return testenv.PostgresSchema(b) }
	}
	for b.Loop() {
		for _, db := range []string{"sqlite", "postgres"} {
			newURL, ok := backends[db]
			if !ok {
				b.Logf("%s: skipped (HZ_TEST_POSTGRES_URL not set)", db)
				continue
			}
			url := newURL(b)
			store, err := inventory.Open(context.Background(), url, testenv.DiscardLog())
			require.NoError(b, err)
			start := time.Now()
			fill(b, store, n, time.Now())
			if db == "postgres" {
				analyze(b, url)
			}
			b.Logf("%s: %d certificates stored in %s", db, n, time.Since(start).Round(time.Millisecond))
			srv := benchConsole(b, store)
			for _, p := range consolePages {
				p50, p99 := timePage(b, srv, p.path, requests)
				b.ReportMetric(p50, db+"-"+p.name+"-p50-ms")
				b.ReportMetric(p99, db+"-"+p.name+"-p99-ms")
				b.Logf("%s %s (%s): p50 %.1f ms, p99 %.1f ms over %d requests", db, p.name, p.path, p50, p99, requests)
			}
			srv.Close()
			store.Close()
		}
	}
}

// analyze gives PostgreSQL the statistics and visibility map autovacuum keeps on a server in use;
// straight after a bulk load it has neither, and plans as if the tables were empty.
func analyze(b testing.TB, url string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(b, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "VACUUM ANALYZE certificates, cert_hosts, findings, received_events")
	require.NoError(b, err)
}

func benchEnv(b testing.TB, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, name)
		return n
	}
	return def
}

// fill stores n certificates: every issuance is a precertificate and its certificate, one in a
// hundred is a wildcard for example.com (so 1% of the certificates cover www.example.com),
// notBefore spread over a year (90-day validity), and one issuance in twenty has a finding.
func fill(b testing.TB, s *inventory.Store, n int, now time.Time) {
	const batch = 1000
	var ws []inventory.Write
	flush := func() {
		require.NoError(b, s.Apply(context.Background(), ws))
		ws = ws[:0]
	}
	for i := 0; i < n; i++ {
		issuance := i / 2
		tbs := hexSum([]byte("tbs " + strconv.Itoa(issuance)))
		nb := now.Add(-time.Duration(issuance%365)*24*time.Hour - time.Duration(issuance%1440)*time.Minute)
		hosts := []string{fmt.Sprintf("h%d.example.com", issuance), fmt.Sprintf("h%d.example.net", issuance)}
		if issuance%100 == 0 {
			hosts = []string{"*.example.com", "example.com"}
		}
		sha := hexSum([]byte("cert " + strconv.Itoa(i)))
		c := &inventory.CertRow{
			SHA256: sha, TBSSHA256: tbs, Detail: inventory.DetailCertNew, Subject: "CN=" + hosts[0], Issuer: "CN=Bench CA " + strconv.Itoa(issuance%7) + ", O=Bench",
			IssuerCA: "Bench CA " + strconv.Itoa(issuance%7), Serial: strconv.Itoa(i), NotBefore: inventory.Ms(nb), NotAfter: inventory.Ms(nb.AddDate(0, 0, 90)),
			EffectiveNotAfter: inventory.Ms(nb.AddDate(0, 0, 90)), Hosts: hosts, KeyAlg: "EC", KeyLen: 256, KeyStrength: 128, SigAlg: "ECDSAwithSHA256",
			Precert: i%2 == 0, Ownership: "own", FirstSeen: inventory.Ms(nb), LastSeen: inventory.Ms(nb), Origin: "ct",
			Payload: []byte(`{"sha256":"` + sha + `","spkiSha256":"` + hexSum([]byte("key "+strconv.Itoa(issuance))) + `"}`),
		}
		w := inventory.Write{Cert: c, Event: inventory.EventRow{Org: "demo", HookID: "bench", ID: strconv.Itoa(i), Type: events.TypeCertNew,
			Source: "webhook", CreatedOn: c.FirstSeen, ReceivedAt: c.FirstSeen}}
		if issuance%20 == 0 && i%2 == 1 {
			w.Findings = []inventory.FindingRow{{TBSSHA256: tbs, DedupType: "wildcard", Type: "wildcard", SHA256: sha, Detail: "wildcard name",
				Alert: []byte("{}"), CreatedAt: c.FirstSeen}}
		}
		ws = append(ws, w)
		if len(ws) == batch {
			flush()
		}
	}
	if len(ws) > 0 {
		flush()
	}
}

func benchConsole(b testing.TB, store *inventory.Store) *httptest.Server {
	conn, _ := testenv.JetStream(b)
	e := handlers.NewAdminServer(prometheus.NewRegistry(), prometheus.NewRegistry(), testenv.DiscardLog())
	_, err := console.Register(e, console.Deps{Inventory: store, DLQ: dlq.New(conn.JS, dlq.Options{}),
		Authorizer: authz.New(nil, store, testenv.DiscardLog(), time.Now), Consumers: fixedLag{}},
		console.Options{Token: token, Types: []string{events.TypeCTEntry, events.TypeCertNew}, Findings: true})
	require.NoError(b, err)
	return httptest.NewServer(e)
}

// timePage requests path n times (after one warm-up) and returns the p50 and p99 in ms.
func timePage(b testing.TB, srv *httptest.Server, path string, n int) (p50, p99 float64) {
	get := func() time.Duration {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := srv.Client().Do(req)
		require.NoError(b, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(b, err)
		resp.Body.Close()
		require.Equal(b, http.StatusOK, resp.StatusCode, path)
		return time.Since(start)
	}
	get()
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = get()
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
	}
	return at(0.50), at(0.99)
}
