package console

import (
	"fmt"
	"time"

	"github.com/hzhook/hzhook/internal/inventory"
)

const (
	// syncRunsRead is how many sync runs the overview reads to count the failures in a row;
	// syncRunsShown how many it lists.
	syncRunsRead  = 20
	syncRunsShown = 3
	// syncGrace is how long after it was due a sync may still be running or about to start (each
	// replica asks every 5 minutes whether one is due, and a listing takes minutes) before the
	// overview calls it overdue.
	syncGrace = time.Hour
	// syncRetry is how soon the worker tries a failed sync again (worker.certSyncRetry).
	syncRetry = time.Hour
	// syncFailing is how many failed runs in a row the HzhookCertSyncFailing alert fires at.
	syncFailing = 2
)

// syncCard is the overview's certificate sync card: the newest runs of the worker's daily
// listing of the Hardenize certificate API (cert_sync_runs, whichever replica ran them), and
// whether the sync is healthy.
type syncCard struct {
	Every    time.Duration // this worker's --cert-sync-every; 0: it does not run the sync
	Runs     []inventory.CertSyncRun
	Status   string // "in sync", "failing", "overdue", "no run yet", "not configured"
	Class    string // the status colour: failing and overdue are problems
	Summary  string
	Error    string // the newest run's error when it failed
	Failures int    // the newest runs that failed in a row
}

// newSyncCard judges runs (newest first) at now for a worker syncing every (0: not at all): a
// failed newest run is failing; no successful run within every (and syncGrace) is overdue; no
// run at all is "not configured" when this worker does not sync.
func newSyncCard(runs []inventory.CertSyncRun, every time.Duration, now time.Time) syncCard {
	c := syncCard{Every: every, Runs: runs[:min(syncRunsShown, len(runs))]}
	if len(runs) == 0 {
		if every == 0 {
			c.Status, c.Summary = "not configured", "This worker does not sync certificates with the Hardenize API, and no sync was recorded. "+
				"Run one replica with --cert-sync-every 24h (HZ_CERT_SYNC_EVERY) to learn of revocations, ownership changes and moved expiry dates."
			return c
		}
		c.Status, c.Class = "no run yet", "warn"
		c.Summary = fmt.Sprintf("Configured every %s; no run recorded yet. The first starts within 5 minutes of the worker's start.", span(every))
		return c
	}
	last := runs[0]
	var lastOK *inventory.CertSyncRun
	for i := range runs {
		if runs[i].Outcome == inventory.CertSyncOK {
			lastOK = &runs[i]
			break
		}
		c.Failures++
	}
	success := "no successful run among the last " + plural(len(runs), "run")
	if lastOK != nil {
		success = "last success " + ago(now, lastOK.FinishedAt)
	}
	switch {
	case last.Outcome != inventory.CertSyncOK:
		c.Status, c.Class, c.Error = "failing", "bad", last.Error
		c.Summary = fmt.Sprintf("The last run failed, %s; %s.", ago(now, last.FinishedAt), success)
		if c.Failures > 1 {
			c.Summary = fmt.Sprintf("The last %d runs failed, the newest %s; %s.", c.Failures, ago(now, last.FinishedAt), success)
		}
		if c.Failures >= syncFailing {
			c.Summary += " The alert HzhookCertSyncFailing fires."
		}
		if every > 0 {
			c.Summary += " The next try is " + due(now, last.FinishedAt.Add(min(every, syncRetry))) + "."
		}
	case every > 0 && now.After(last.StartedAt.Add(every+syncGrace)):
		c.Status, c.Class = "overdue", "bad"
		c.Summary = fmt.Sprintf("No run since %s, though it runs every %s: is a worker with --cert-sync-every running, and does it get the lock?", ago(now, last.StartedAt), span(every))
	default:
		c.Status, c.Class = "in sync", "ok"
		c.Summary = fmt.Sprintf("Last run %s: %s listed, %s new or changed.", ago(now, last.FinishedAt), plural(last.Certificates, "certificate"), num(last.New+last.Changed))
		if every > 0 {
			c.Summary += " Next " + due(now, last.StartedAt.Add(every)) + "."
		} else {
			c.Summary += " This worker does not run the sync itself (--cert-sync-every 0)."
		}
	}
	return c
}

// due says when something due at t is, seen at now: "due now", or "in 3 hours".
func due(now, t time.Time) string {
	if !t.After(now) {
		return "due now"
	}
	return "in " + span(t.Sub(now))
}
