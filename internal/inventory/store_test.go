package inventory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
)

// opener opens the store of a fresh, empty database named by key.
type opener func(t *testing.T, key string) *Store

func TestStoreSQLite(t *testing.T) {
	dir := t.TempDir()
	storeSuite(t, func(t *testing.T, key string) string {
		return "sqlite://" + filepath.Join(dir, key+".db")
	})
}

func TestStorePostgres(t *testing.T) {
	base := os.Getenv("HZ_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("HZ_TEST_POSTGRES_URL is not set: PostgreSQL is required under CI (run through scripts/with-services.sh)")
		}
		t.Skip("HZ_TEST_POSTGRES_URL is not set; run through scripts/with-services.sh to test PostgreSQL")
	}
	prefix := "t_" + randomHex(4)
	var mu sync.Mutex // CREATE SCHEMA IF NOT EXISTS races with itself
	storeSuite(t, func(t *testing.T, key string) string {
		mu.Lock()
		defer mu.Unlock()
		return postgresSchema(t, base, prefix+"_"+key)
	})
}

func openTest(t *testing.T, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// postgresSchema creates the schema (once) and returns a URL whose connections use it.
func postgresSchema(t testing.TB, base, schema string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// storeSuite is the contract every store backend passes. newURL returns the --db URL of a fresh,
// empty database for each key.
func storeSuite(t *testing.T, newURL func(t *testing.T, key string) string) {
	open := func(t *testing.T, key string) *Store { return openTest(t, newURL(t, key)) }
	t.Run("migrations are applied once, also concurrently", func(t *testing.T) {
		var wg sync.WaitGroup
		stores := make([]*Store, 3)
		errs := make([]error, 3)
		u := newURL(t, "migrate")
		for i := range stores {
			wg.Go(func() { stores[i], errs[i] = Open(context.Background(), u, slog.New(slog.DiscardHandler)) })
		}
		wg.Wait()
		for i, s := range stores {
			require.NoError(t, errs[i])
			t.Cleanup(s.Close)
		}
		var n int
		require.NoError(t, stores[0].read.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n))
		ms, err := loadMigrations(stores[0].dialect.name)
		require.NoError(t, err)
		assert.Equal(t, len(ms), n)
		applied, err := stores[1].migrate(context.Background())
		require.NoError(t, err)
		assert.Zero(t, applied)
	})
	t.Run("same events twice in shuffled batches give identical rows", func(t *testing.T) {
		testIdempotentAndOrderIndependent(t, open)
	})
	t.Run("precert, cert and three CT entries are one linked group", func(t *testing.T) {
		testLinkedGroup(t, open(t, "linked"))
	})
	t.Run("filters, sorts and pages", func(t *testing.T) {
		testQueries(t, open(t, "queries"))
	})
	t.Run("bad payloads are permanent, unparsable DER is stored", func(t *testing.T) {
		testPayloadErrors(t, open(t, "payloads"))
	})
	t.Run("a row the database refuses fails alone", func(t *testing.T) {
		testRefusedRow(t, open(t, "refused"))
	})
}

// corpus builds about 1,000 events over 100 issuances: ct.entry of the precertificate in three logs
// and of the certificate in one, pki.cert.new of both, and later pki.cert.new updates of the
// certificate with a later lastSeen and a changed ownership.
func corpus(t *testing.T) []dispatch.Message {
	ca := newTestCA(t)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var msgs []dispatch.Message
	id := int64(1)
	add := func(typ string, data any) {
		msgs = append(msgs, message(t, id, typ, data))
		id++
	}
	for i := range 100 {
		is := ca.issue(t, int64(i+10), []string{fmt.Sprintf("www%d.example.com", i), fmt.Sprintf("*.app%d.example.com", i)},
			base, base.AddDate(0, 0, i))
		ts := base.Add(time.Duration(i) * time.Minute)
		for l := range 3 {
			add(events.TypeCTEntry, is.ctEntry(true, logName(l), int64(1000*i+l), ts.Add(time.Duration(l)*time.Second)))
		}
		add(events.TypeCTEntry, is.ctEntry(false, logName(0), int64(1000*i+500), ts.Add(time.Hour)))
		add(events.TypeCertNew, is.certNew(true, "own", ts, ts))
		add(events.TypeCertNew, is.certNew(false, "own", ts.Add(time.Hour), ts.Add(time.Hour)))
		add(events.TypeCertNew, is.certNew(false, "thirdParty", ts.Add(2*time.Hour), ts.Add(48*time.Hour)))
		add(events.TypeCertNew, is.certNew(false, "own", ts.Add(30*time.Minute), ts.Add(3*time.Hour)))
		add(events.TypeCertNew, is.certNew(true, "own", ts.Add(-time.Hour), ts.Add(time.Minute)))
		add(events.TypeTest, events.TestMessage{Message: "hello"})
	}
	return msgs
}

func deliver(t *testing.T, h *Handler, msgs []dispatch.Message, maxBatch int, rnd *mrand.Rand) {
	t.Helper()
	for len(msgs) > 0 {
		n := min(len(msgs), 1+rnd.IntN(maxBatch))
		for i, err := range h.Handle(context.Background(), msgs[:n]) {
			require.NoError(t, err, "message %d", i)
		}
		msgs = msgs[n:]
	}
}

func testIdempotentAndOrderIndependent(t *testing.T, open opener) {
	msgs := corpus(t)
	require.Len(t, msgs, 1000)
	rnd := mrand.New(mrand.NewPCG(1, 2))

	once := open(t, "ordered")
	deliver(t, NewHandler(once, Options{}), msgs, 1, rnd)

	twice := open(t, "shuffled")
	h := NewHandler(twice, Options{})
	for range 2 {
		shuffled := append([]dispatch.Message(nil), msgs...)
		rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		deliver(t, h, shuffled, 64, rnd)
	}
	for _, table := range []string{"received_events", "certificates", "ct_entries", "cert_hosts"} {
		a, b := dump(t, once, table), dump(t, twice, table)
		require.NotEmpty(t, a, table)
		assert.Equal(t, a, b, table)
	}
	assert.Len(t, dump(t, once, "certificates"), 200)
	assert.Len(t, dump(t, once, "ct_entries"), 400)
	assert.Len(t, dump(t, once, "received_events"), 900, "test events are not stored")

	// The latest lastSeen won, the earliest firstSeen stayed.
	page, err := twice.ListCertificates(context.Background(), CertificateQuery{Precert: ptr(false), Sort: Sort{Key: "notAfter"}, Page: 1, PageSize: 1})
	require.NoError(t, err)
	c := page.Items[0]
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, OwnershipThirdParty, c.Ownership)
	assert.Equal(t, base.Add(30*time.Minute), c.FirstSeen)
	assert.Equal(t, base.Add(48*time.Hour), c.LastSeen)
	assert.Equal(t, "pki.cert.new", c.Source)
}

func dump(t *testing.T, s *Store, table string) []string {
	t.Helper()
	rows, err := s.read.Query("SELECT * FROM " + table)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		var b strings.Builder
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		out = append(out, b.String())
	}
	require.NoError(t, rows.Err())
	slices.Sort(out)
	return out
}

func ptr[T any](v T) *T { return &v }
