package certsync

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/queue"
)

// The asynchronous listing with several polls before done, 429s on the way, and pages of the
// server's size: every certificate is stored once; a rerun stores nothing; a certificate whose
// revokedOn appeared since is stored again, alone.
func TestRunStoresEveryCertificateOnce(t *testing.T) {
	f := newFixture(t, 7)
	f.api.SetOperationPolls(3)
	f.api.SetRowsPerPage(3)
	f.api.Throttle(2)
	var progress []Progress
	polls := 0
	o := Options{Org: org, Source: queue.SourceImport, Progress: func(p Progress) { progress = append(progress, p) },
		OnStatus: func(hardenize.OperationStatus) { polls++ }}

	st, err := Run(context.Background(), f.deps(), o)
	require.NoError(t, err)
	assert.Equal(t, 7, st.Certificates)
	assert.Equal(t, 7, st.Total)
	assert.Equal(t, 7, st.Published)
	assert.Zero(t, st.Duplicates)
	assert.Equal(t, 3, st.Pages)
	assert.True(t, st.Completed)
	assert.Equal(t, 4, polls, "three polls answered not done, the fourth done")
	assert.Equal(t, 4, f.api.Requests("operations"))
	assert.Equal(t, 3, f.api.Requests("listCerts"), "two 429s, then the listing")
	require.Len(t, progress, 3)
	assert.Equal(t, []int{3, 6, 7}, []int{progress[0].Certificates, progress[1].Certificates, progress[2].Certificates})
	assert.Equal(t, 3, progress[0].PagesTotal)

	bySHA, msgs := f.stored(t)
	require.Len(t, bySHA, 7)
	for _, c := range f.certs {
		assert.Equal(t, 1, bySHA[c.SHA256], c.SHA256)
	}
	for _, m := range msgs {
		h := map[string][]string(m.header)
		assert.Equal(t, []string{queue.SourceImport}, h[queue.HeaderSource])
		assert.Equal(t, []string{HookID}, h[queue.HeaderHookID])
		assert.Equal(t, []string{org}, h[queue.HeaderOrg])
		assert.Equal(t, []string{queue.AlertsOff}, h[queue.HeaderAlerts], "alerts off unless asked")
		assert.Equal(t, []string{queue.MsgID(org, HookID, m.event.ID, nil)}, h["Nats-Msg-Id"])
		assert.Equal(t, st.AsOf.Truncate(time.Millisecond), m.event.CreatedOn, "createdOn is when the listing was asked for")
	}

	st, err = Run(context.Background(), f.deps(), o)
	require.NoError(t, err)
	assert.Equal(t, 7, st.Certificates)
	assert.Zero(t, st.Published, "a rerun stores nothing")
	assert.Equal(t, 7, st.Duplicates)
	bySHA, _ = f.stored(t)
	assert.Len(t, bySHA, 7)

	revokedOn := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, f.api.UpdateCert(f.certs[4].SHA256, func(c *events.Certificate) { c.RevokedOn = &revokedOn }))
	st, err = Run(context.Background(), f.deps(), o)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Published)
	assert.Equal(t, 6, st.Duplicates)
	bySHA, msgs = f.stored(t)
	assert.Equal(t, 2, bySHA[f.certs[4].SHA256])
	require.NotNil(t, msgs[len(msgs)-1].cert.RevokedOn)
	assert.True(t, revokedOn.Equal(*msgs[len(msgs)-1].cert.RevokedOn))
}

// Cancelled after page 2 of 4, the run resumes from its checkpoint and delivers the rest; every
// certificate ends up stored exactly once.
func TestRunResumesFromCheckpoint(t *testing.T) {
	f := newFixture(t, 10)
	f.api.SetOperationPolls(1)
	f.api.SetRowsPerPage(3)
	cp := FileCheckpoint{Path: filepath.Join(t.TempDir(), "import.json")}
	ctx, cancel := context.WithCancel(context.Background())
	o := Options{Org: org, Source: queue.SourceImport, Alerts: true, Checkpoint: cp,
		Progress: func(p Progress) {
			if p.Pages == 2 {
				cancel()
			}
		}}
	st, err := Run(ctx, f.deps(), o)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 6, st.Published)
	assert.False(t, st.Completed)
	saved, ok, err := cp.Load(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 2, saved.Cursor.Page)
	assert.Equal(t, 6, saved.Stats.Published)
	listings := f.api.Requests("listCerts")

	o.Progress = nil
	st, err = Run(context.Background(), f.deps(), o)
	require.NoError(t, err)
	assert.True(t, st.Resumed)
	assert.False(t, st.Restarted)
	assert.True(t, st.Completed)
	assert.Equal(t, 10, st.Certificates)
	assert.Equal(t, 10, st.Published, "counted over both runs")
	assert.Zero(t, st.Duplicates, "no page was sent twice")
	assert.Equal(t, listings, f.api.Requests("listCerts"), "the same listing, not a new one")
	bySHA, msgs := f.stored(t)
	require.Len(t, bySHA, 10)
	for _, c := range f.certs {
		assert.Equal(t, 1, bySHA[c.SHA256], c.SHA256)
	}
	for _, m := range msgs {
		assert.Empty(t, map[string][]string(m.header)[queue.HeaderAlerts], "alerts on")
	}

	// A finished checkpoint starts a new listing; a checkpoint of another import is refused.
	st, err = Run(context.Background(), f.deps(), o)
	require.NoError(t, err)
	assert.False(t, st.Resumed)
	assert.Equal(t, 10, st.Duplicates)
	_, err = Run(context.Background(), f.deps(), Options{Org: org, Source: queue.SourceImport, Checkpoint: cp})
	require.ErrorContains(t, err, "checkpoint is for org \"demo\", limit 0, alerts true")
}

// A checkpoint whose listing the API discarded starts a new listing: nothing is lost, and what
// was stored comes back as duplicates.
func TestRunRestartsAnExpiredListing(t *testing.T) {
	f := newFixture(t, 5)
	f.api.SetOperationPolls(0)
	f.api.SetRowsPerPage(2)
	cp := FileCheckpoint{Path: filepath.Join(t.TempDir(), "import.json")}
	ctx, cancel := context.WithCancel(context.Background())
	o := Options{Org: org, Source: queue.SourceImport, Checkpoint: cp, Progress: func(Progress) { cancel() }}
	_, err := Run(ctx, f.deps(), o)
	require.ErrorIs(t, err, context.Canceled)
	f.api.ExpireOperations()

	o.Progress = nil
	st, err := Run(context.Background(), f.deps(), o)
	require.NoError(t, err)
	assert.True(t, st.Restarted)
	assert.Equal(t, 5, st.Certificates)
	assert.Equal(t, 3, st.Published)
	assert.Equal(t, 2, st.Duplicates)
	bySHA, _ := f.stored(t)
	assert.Len(t, bySHA, 5)
}

// With Compare, unchanged certificates are not sent; new and changed ones are, and counted apart.
// A certificate object the client refuses is counted and not sent; a failed listing is an error.
func TestRunCompareAndFailures(t *testing.T) {
	f := newFixture(t, 4)
	f.api.SetOperationPolls(0)
	bad := f.certs[0]
	bad.SHA256 = "00" + bad.SHA256[2:] // not the sha256 of its pem
	require.NoError(t, f.api.AddCert(bad, time.Now()))
	states := map[string]State{f.certs[0].SHA256: Unchanged, f.certs[1].SHA256: Changed}
	o := Options{Org: org, Source: queue.SourceSync, Alerts: true, Compare: func(_ context.Context, certs []hardenize.CertRecord) ([]State, error) {
		out := make([]State, len(certs))
		for i, c := range certs {
			out[i] = states[c.Certificate.SHA256]
		}
		return out, nil
	}}
	st, err := Run(context.Background(), f.deps(), o)
	require.NoError(t, err)
	assert.Equal(t, Stats{Pages: 1, PagesTotal: 1, Certificates: 5, Total: 5, Published: 3, New: 2, Changed: 1,
		Unchanged: 1, Rejected: 1, AsOf: st.AsOf, Completed: true, Elapsed: st.Elapsed, Rate: st.Rate}, st)
	bySHA, _ := f.stored(t)
	assert.Equal(t, map[string]int{f.certs[1].SHA256: 1, f.certs[2].SHA256: 1, f.certs[3].SHA256: 1}, bySHA)

	f.api.FailNextOperation(http.StatusInternalServerError, "database unavailable")
	_, err = Run(context.Background(), f.deps(), o)
	var apiErr *hardenize.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusInternalServerError, apiErr.StatusCode)

	o.Compare = func(context.Context, []hardenize.CertRecord) ([]State, error) { return nil, errors.New("store down") }
	_, err = Run(context.Background(), f.deps(), o)
	require.ErrorContains(t, err, "compare with the inventory: store down")
}
