package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/inventory"
)

// The overview's certificate sync card judges the runs in cert_sync_runs (whichever replica ran
// them) against this worker's --cert-sync-every: a failed newest run is failing, no run within
// the interval (and an hour) is overdue, both problems; no run at all is "not configured" when
// this worker does not sync. A failed run's error is shown, escaped.
func TestOverviewCertSync(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	run := func(outcome string, ago time.Duration, err string) inventory.CertSyncRun {
		return inventory.CertSyncRun{Org: "demo", StartedAt: now.Add(-ago), FinishedAt: now.Add(-ago + 2*time.Minute), Outcome: outcome,
			Certificates: 9870, New: 10, Changed: 2, Rejected: 1, Error: err}
	}
	hostile := `list certificates: 401 <b onmouseover="alert(1)">unauthorized</b>`
	for _, tc := range []struct {
		name   string
		every  time.Duration
		runs   []inventory.CertSyncRun // oldest first
		status string                  // the badge
		want   []string                // in the card
	}{
		{"not configured", 0, nil, `<span class="badge">not configured</span>`,
			[]string{"This worker does not sync certificates", "--cert-sync-every 24h (HZ_CERT_SYNC_EVERY)", "Hardenize certificate API"}},
		{"no run yet", 24 * time.Hour, nil, `<span class="badge warn">no run yet</span>`,
			[]string{"Configured every 24 hours; no run recorded yet.", "every 24 hours</span></h2>"}},
		{"in sync", 24 * time.Hour, []inventory.CertSyncRun{run("ok", 27*time.Hour, ""), run("ok", 3*time.Hour, "")},
			`<span class="badge ok">in sync</span>`,
			[]string{"Last run 2 hours ago: 9,870 certificates listed, 12 new or changed. Next in 21 hours.", `<table id="sync-runs">`,
				`<td class="num">9,870</td>`, `<span class="badge warn">1</span>`}},
		{"overdue", 24 * time.Hour, []inventory.CertSyncRun{run("ok", 26*time.Hour, "")}, `<span class="badge bad">overdue</span>`,
			[]string{"No run since 26 hours ago, though it runs every 24 hours"}},
		{"failed once", 24 * time.Hour, []inventory.CertSyncRun{run("ok", 25*time.Hour, ""), run("failed", 90*time.Minute, "list certificates: timeout")},
			`<span class="badge bad">failing</span>`,
			[]string{"The last run failed, 1 hour ago; last success 24 hours ago. The next try is due now.",
				`<p class="alert break" id="sync-error">list certificates: timeout</p>`}},
		{"failing", 24 * time.Hour, []inventory.CertSyncRun{run("ok", 30*time.Hour, ""), run("failed", 3*time.Hour, "x"), run("failed", 20*time.Minute, hostile)},
			`<span class="badge bad">failing</span>`,
			[]string{"The last 2 runs failed, the newest 18 minutes ago; last success 29 hours ago. The alert HzhookCertSyncFailing fires. The next try is in 42 minutes.",
				`401 &lt;b onmouseover=&#34;alert(1)&#34;&gt;unauthorized&lt;/b&gt;</p>`, `<span class="badge bad">failed</span>`}},
		{"run by another replica", 0, []inventory.CertSyncRun{run("ok", 3*time.Hour, "")}, `<span class="badge ok">in sync</span>`,
			[]string{"This worker does not run the sync itself (--cert-sync-every 0)."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, certSyncEvery(tc.every))
			for _, r := range tc.runs {
				require.NoError(t, h.store.RecordCertSyncRun(t.Context(), r))
			}
			a := h.client().login().get("/ui/")
			require.Equal(t, http.StatusOK, a.code, a.body)
			card := between(t, a.body, `id="cert-sync">`, `</section>`)
			assert.Contains(t, between(t, card, `<p id="sync-status">`, `</p>`), tc.status)
			for _, w := range tc.want {
				assert.Contains(t, card, w)
			}
			assert.NotContains(t, card, "<b ")
			assert.LessOrEqual(t, strings.Count(card, "<tr>")-1, 3, "at most three runs listed")
		})
	}
}
