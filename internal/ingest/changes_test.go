package ingest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// TestChangesSQLite and TestChangesPostgres: what a newer copy of a stored certificate (the
// certificate sync, an import) changes, and what it alerts.
func TestChangesSQLite(t *testing.T)   { changesSuite(t, sqliteOpener(t)) }
func TestChangesPostgres(t *testing.T) { changesSuite(t, postgresOpener(t)) }

func changesSuite(t *testing.T, open opener) {
	t.Run("revokedOn appearing in a later copy alerts revoked once", func(t *testing.T) { testRevokedLater(t, open(t, "revoked")) })
	t.Run("each ownership change alerts once", func(t *testing.T) { testOwnershipChanges(t, open(t, "ownership")) })
	t.Run("a moved effectiveNotAfter alerts once", func(t *testing.T) { testExpiryMoved(t, open(t, "expiry")) })
	t.Run("an import with alerts off records findings without alerting", func(t *testing.T) { testSuppressed(t, open(t, "suppressed")) })
	t.Run("the later observation wins in any order", func(t *testing.T) { testLaterObservationWins(t, open) })
}

// copyMessage is a pki.cert.new built from the certificate API as hzctl certs import and the
// worker's sync publish it: observed at createdOn, from source, alerting unless alertsOff.
func copyMessage(t *testing.T, id int64, c events.Certificate, createdOn time.Time, source string, alertsOff bool) dispatch.Message {
	t.Helper()
	body, err := json.Marshal(map[string]any{"id": id, "type": events.TypeCertNew, "createdOn": createdOn.Format(time.RFC3339Nano), "data": c})
	require.NoError(t, err)
	m := bodyMessage(t, body)
	m.HookID, m.Source, m.Header = "certs", source, nats.Header{}
	if alertsOff {
		m.Header.Set(queue.HeaderAlerts, queue.AlertsOff)
	}
	return m
}

// newAlerts returns the types of the alerts published since the last call.
type alertCounter struct {
	env  *alertEnv
	seen int
}

func (a *alertCounter) next(t *testing.T) []rules.Type {
	t.Helper()
	all := a.env.alerts(t)
	got := alertTypes(all[a.seen:])
	a.seen = len(all)
	return got
}

func testRevokedLater(t *testing.T, s store) {
	env := newAlertEnv(t, s, "rules: {expiringSoon: false}\n")
	ca := newTestCA(t)
	nb := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 1, []string{"www.example.com"}, nb, nb.AddDate(0, 0, 90))
	day1, day2, day3 := nb.AddDate(0, 0, 5), nb.AddDate(0, 0, 6), nb.AddDate(0, 0, 7)
	cert := is.certNew(false, "own", nb, nb.AddDate(0, 0, 2)) // lastSeen does not move: the revocation alone changes
	ac := &alertCounter{env: env}

	env.handleOK(t, copyMessage(t, 1, cert, day1, queue.SourceSync, false))
	assert.Equal(t, []rules.Type{}, ac.next(t), "a clean certificate")

	revoked := cert
	revokedOn := day1.Add(3 * time.Hour)
	revoked.RevokedOn = &revokedOn
	revoked.EffectiveNotAfter = revokedOn // Hardenize's effective end of a revoked certificate
	env.handleOK(t, copyMessage(t, 2, revoked, day2, queue.SourceSync, false))
	assert.Equal(t, []rules.Type{rules.TypeRevoked}, ac.next(t), "one revoked alert, and no expiryMoved for it")

	env.handleOK(t, copyMessage(t, 2, revoked, day2, queue.SourceSync, false)) // redelivered
	env.handleOK(t, copyMessage(t, 3, revoked, day3, queue.SourceSync, false)) // the next day's sync
	env.handleOK(t, copyMessage(t, 1, cert, day1, queue.SourceSync, false))    // the older copy, late
	assert.Equal(t, []rules.Type{}, ac.next(t))

	d, err := s.Certificate(context.Background(), is.certSH)
	require.NoError(t, err)
	var p events.Certificate
	require.NoError(t, json.Unmarshal(d.Payload, &p))
	require.NotNil(t, p.RevokedOn, "the revoked copy won over the older one")
	assert.True(t, revokedOn.Equal(*p.RevokedOn))
	assert.Equal(t, queue.SourceSync, d.ReceivedVia)
}

func testOwnershipChanges(t *testing.T, s store) {
	env := newAlertEnv(t, s, "rules: {expiringSoon: false, thirdPartyForOwnHost: false}\n")
	ca := newTestCA(t)
	nb := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 2, []string{"www.example.com"}, nb, nb.AddDate(0, 0, 90))
	seen := nb.AddDate(0, 0, 1)
	at := func(day int) time.Time { return nb.AddDate(0, 0, 10+day) }
	ac := &alertCounter{env: env}

	env.handleOK(t, message(t, 1, events.TypeCTEntry, is.ctEntry(false, logName(0), 1, nb)))
	env.handleOK(t, copyMessage(t, 2, is.certNew(false, "own", nb, seen), at(0), queue.SourceImport, false))
	assert.Equal(t, []rules.Type{}, ac.next(t), "the first full description of a CT-only row is no change")

	steps := []struct {
		day       int
		ownership string
		want      []rules.Type
		stored    string
	}{
		{1, "thirdParty", []rules.Type{rules.TypeOwnershipChanged}, "thirdParty"},
		{1, "thirdParty", []rules.Type{}, "thirdParty"}, // redelivered
		{0, "own", []rules.Type{}, "thirdParty"},        // the older copy, late: no change, the newer stays
		{2, "thirdParty", []rules.Type{}, "thirdParty"}, // the next sync, same value
		{3, "own", []rules.Type{rules.TypeOwnershipChanged}, "own"},
		{4, "thirdParty", []rules.Type{}, "thirdParty"}, // back again: that change was alerted already
	}
	for i, st := range steps {
		env.handleOK(t, copyMessage(t, int64(10+i), is.certNew(false, st.ownership, nb, seen), at(st.day), queue.SourceSync, false))
		assert.Equal(t, st.want, ac.next(t), "step %d", i)
		d, err := s.Certificate(context.Background(), is.certSH)
		require.NoError(t, err)
		assert.Equal(t, st.stored, d.Ownership, "step %d", i)
	}
	page, err := s.ListFindings(context.Background(), inventory.FindingQuery{Type: "ownershipChanged", Page: 1, PageSize: 10})
	require.NoError(t, err)
	var dedup []string
	for _, f := range page.Items {
		dedup = append(dedup, f.DedupType)
		assert.NotNil(t, f.PublishedAt)
	}
	assert.ElementsMatch(t, []string{"ownershipChanged/thirdParty", "ownershipChanged/own"}, dedup)
}

func testExpiryMoved(t *testing.T, s store) {
	env := newAlertEnv(t, s, "rules: {expiringSoon: false}\n")
	ca := newTestCA(t)
	nb := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 3, []string{"www.example.com"}, nb, nb.AddDate(0, 0, 90))
	cert := is.certNew(false, "own", nb, nb)
	ac := &alertCounter{env: env}
	env.handleOK(t, copyMessage(t, 1, cert, nb.AddDate(0, 0, 1), queue.SourceSync, false))
	require.Equal(t, []rules.Type{}, ac.next(t))

	moved := cert
	moved.EffectiveNotAfter = nb.AddDate(0, 0, 30) // the CA was distrusted
	for day := 2; day <= 4; day++ {
		env.handleOK(t, copyMessage(t, int64(day), moved, nb.AddDate(0, 0, day), queue.SourceSync, false))
	}
	got := env.alerts(t)[ac.seen:]
	require.Len(t, got, 1)
	assert.Equal(t, rules.TypeExpiryMoved, got[0].Type)
	assert.Equal(t, "effectiveNotAfter moved from 2026-04-10T00:00:00Z to 2026-02-09T00:00:00Z", got[0].Detail)
	assert.Equal(t, nb.AddDate(0, 0, 30), got[0].Cert.EffectiveNotAfter)
	d, err := s.Certificate(context.Background(), is.certSH)
	require.NoError(t, err)
	var p events.Certificate
	require.NoError(t, json.Unmarshal(d.Payload, &p))
	assert.Equal(t, nb.AddDate(0, 0, 30), p.EffectiveNotAfter.UTC())
}

func testSuppressed(t *testing.T, s store) {
	env := newAlertEnv(t, s, "rules: {expiringSoon: false}\n")
	ca := newTestCA(t)
	nb := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 4, []string{"*.example.com"}, nb, nb.AddDate(0, 0, 90))
	revokedOn := nb.AddDate(0, 0, 3)
	cert := is.certNew(false, "own", nb, nb)
	cert.RevokedOn = &revokedOn
	imported := copyMessage(t, 1, cert, nb.AddDate(0, 0, 5), queue.SourceImport, true)
	env.handleOK(t, imported, imported)
	assert.Empty(t, env.alerts(t), "history pages no one")

	page, err := s.ListFindings(context.Background(), inventory.FindingQuery{Page: 1, PageSize: 10})
	require.NoError(t, err)
	require.Equal(t, 2, page.Total, "wildcard and revoked are recorded")
	for _, f := range page.Items {
		assert.True(t, f.Suppressed, f.Type)
		assert.Nil(t, f.PublishedAt, f.Type)
	}

	// The same certificate by webhook, a sync copy, and the sweep for unpublished findings: the
	// history stays quiet, and the findings stay as the import recorded them.
	env.handleOK(t, message(t, 2, events.TypeCertNew, cert), copyMessage(t, 3, cert, nb.AddDate(0, 0, 6), queue.SourceSync, false))
	_, err = env.expiry.Run(context.Background(), nb.AddDate(0, 0, 7))
	require.NoError(t, err)
	assert.Empty(t, env.alerts(t))
	page, err = s.ListFindings(context.Background(), inventory.FindingQuery{Page: 1, PageSize: 10})
	require.NoError(t, err)
	assert.Equal(t, 2, page.Total)

	// Within one batch, the alerting copy of a new issuance wins over a suppressed one.
	other := ca.issue(t, 5, []string{"*.shop.example.com"}, nb, nb.AddDate(0, 0, 90))
	oc := other.certNew(false, "own", nb, nb)
	env.handleOK(t, copyMessage(t, 4, oc, nb.AddDate(0, 0, 5), queue.SourceImport, true), message(t, 5, events.TypeCertNew, oc))
	assert.Equal(t, []rules.Type{rules.TypeWildcard}, alertTypes(env.alerts(t)))
}

// Two copies with the same lastSeen, delivered in either order: the later observation wins the
// row, and received_via says it came by sync.
func testLaterObservationWins(t *testing.T, open opener) {
	ca := newTestCA(t)
	nb := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 6, []string{"www.example.com"}, nb, nb.AddDate(0, 0, 90))
	older := copyMessage(t, 1, is.certNew(false, "thirdParty", nb, nb), nb.AddDate(0, 0, 1), queue.SourceImport, false)
	newer := copyMessage(t, 2, is.certNew(false, "own", nb, nb), nb.AddDate(0, 0, 2), queue.SourceSync, false)
	var dumps [][]string
	for i, order := range [][]dispatch.Message{{older, newer}, {newer, older}, {newer, older, newer}} {
		s := open(t, "order"+string(rune('a'+i)))
		w := New(s, Options{})
		for _, m := range order {
			require.NoError(t, route(context.Background(), w, []dispatch.Message{m})[0])
		}
		d, err := s.Certificate(context.Background(), is.certSH)
		require.NoError(t, err)
		assert.Equal(t, "own", d.Ownership, "order %d", i)
		assert.Equal(t, queue.SourceSync, d.ReceivedVia, "order %d", i)
		dumps = append(dumps, dump(t, s, "certificates"))
	}
	assert.Equal(t, dumps[0], dumps[1])
	assert.Equal(t, dumps[0], dumps[2])
}
