package ingest

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
)

func TestStoreSQLite(t *testing.T)   { storeSuite(t, sqliteOpener(t)) }
func TestStorePostgres(t *testing.T) { storeSuite(t, postgresOpener(t)) }

// storeSuite is the contract every store backend passes: events in, rows out.
func storeSuite(t *testing.T, open opener) {
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

// deliver hands msgs to w in batches of 1 to maxBatch messages; test events, which the dispatcher
// acknowledges without a handler, are left out.
func deliver(t *testing.T, w *Writer, msgs []dispatch.Message, maxBatch int, rnd *mrand.Rand) {
	t.Helper()
	msgs = slices.DeleteFunc(slices.Clone(msgs), func(m dispatch.Message) bool { return m.Event.Type == events.TypeTest })
	for len(msgs) > 0 {
		n := min(len(msgs), 1+rnd.IntN(maxBatch))
		for i, err := range route(context.Background(), w, msgs[:n]) {
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
	deliver(t, New(once, Options{}), msgs, 1, rnd)

	twice := open(t, "shuffled")
	h := New(twice, Options{})
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
	page, err := twice.ListCertificates(context.Background(), inventory.CertificateQuery{Precert: ptr(false), Sort: inventory.Sort{Key: "notAfter"}, Page: 1, PageSize: 1})
	require.NoError(t, err)
	c := page.Items[0]
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, inventory.OwnershipThirdParty, c.Ownership)
	assert.Equal(t, base.Add(30*time.Minute), c.FirstSeen)
	assert.Equal(t, base.Add(48*time.Hour), c.LastSeen)
	assert.Equal(t, "pki.cert.new", c.Source)
}

func ptr[T any](v T) *T { return &v }
