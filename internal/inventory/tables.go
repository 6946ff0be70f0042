package inventory

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// column is one column of a table: its name, its PostgreSQL element type (for the unnest arrays;
// "timestamptz" values are converted to what the dialect stores) and how a row gives its value.
type column[R any] struct {
	name  string
	pg    string
	value func(R) any
}

// table describes once how rows of R are written: columns in insert order and the ON CONFLICT
// clause both databases share. name carries an alias where the clause needs one.
type table[R any] struct {
	name     string
	columns  []column[R]
	conflict string
}

func (t table[R]) names() []string {
	out := make([]string, len(t.columns))
	for i, c := range t.columns {
		out[i] = c.name
	}
	return out
}

func (t table[R]) rowSQL() string {
	ps := make([]string, len(t.columns))
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", i+1)
	}
	return "INSERT INTO " + t.name + " (" + strings.Join(t.names(), ", ") + ") VALUES (" + strings.Join(ps, ", ") + ")\n" + t.conflict
}

func (t table[R]) unnestSQL() string {
	ps := make([]string, len(t.columns))
	for i, c := range t.columns {
		ps[i] = fmt.Sprintf("$%d::%s[]", i+1, c.pg)
	}
	return "INSERT INTO " + t.name + " (" + strings.Join(t.names(), ", ") + ")\nSELECT * FROM unnest(" + strings.Join(ps, ", ") + ")\n" + t.conflict
}

// values lists the column values of each row, times as the dialect stores them and text as both
// can (storable).
func (t table[R]) values(rows []R, d dialect) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		vals := make([]any, len(t.columns))
		for j, c := range t.columns {
			vals[j] = c.value(r)
			switch s, _ := vals[j].(string); c.pg {
			case "timestamptz":
				vals[j] = d.timeArg(vals[j].(time.Time))
			case "text":
				vals[j] = storable(s)
			case "jsonb":
				vals[j] = storableJSON(s)
			}
		}
		out[i] = vals
	}
	return out
}

// received_events: the earliest receipt keeps its time and source.
var eventsTable = table[EventRow]{
	name: "received_events",
	columns: []column[EventRow]{
		{"org", "text", func(e EventRow) any { return e.Org }},
		{"hook_id", "text", func(e EventRow) any { return e.HookID }},
		{"event_id", "text", func(e EventRow) any { return e.ID }},
		{"type", "text", func(e EventRow) any { return e.Type }},
		{"created_on", "timestamptz", func(e EventRow) any { return e.CreatedOn }},
		{"source", "text", func(e EventRow) any { return e.Source }},
		{"received_at", "timestamptz", func(e EventRow) any { return e.ReceivedAt }},
	},
	conflict: `ON CONFLICT (org, hook_id, event_id) DO UPDATE SET received_at = excluded.received_at, source = excluded.source
WHERE excluded.received_at < received_events.received_at
   OR (excluded.received_at = received_events.received_at AND excluded.source < received_events.source)`,
}

var certColumns = []column[*CertRow]{
	{"sha256", "text", func(c *CertRow) any { return c.SHA256 }},
	{"tbs_sha256", "text", func(c *CertRow) any { return c.TBSSHA256 }},
	{"issuance", "text", func(c *CertRow) any { return c.issuance() }},
	{"detail", "smallint", func(c *CertRow) any { return c.Detail }},
	{"subject", "text", func(c *CertRow) any { return c.Subject }},
	{"issuer", "text", func(c *CertRow) any { return c.Issuer }},
	{"issuer_ca", "text", func(c *CertRow) any { return c.IssuerCA }},
	{"serial", "text", func(c *CertRow) any { return c.Serial }},
	{"not_before", "timestamptz", func(c *CertRow) any { return c.NotBefore }},
	{"not_after", "timestamptz", func(c *CertRow) any { return c.NotAfter }},
	{"effective_not_after", "timestamptz", func(c *CertRow) any { return c.EffectiveNotAfter }},
	{"hosts", "text", func(c *CertRow) any { return jsonList(c.Hosts) }},
	{"key_alg", "text", func(c *CertRow) any { return c.KeyAlg }},
	{"key_len", "integer", func(c *CertRow) any { return c.KeyLen }},
	{"key_strength", "integer", func(c *CertRow) any { return c.KeyStrength }},
	{"sig_alg", "text", func(c *CertRow) any { return c.SigAlg }},
	{"wildcard", "boolean", func(c *CertRow) any { return c.Wildcard }},
	{"self_signed", "boolean", func(c *CertRow) any { return c.SelfSigned }},
	{"precert", "boolean", func(c *CertRow) any { return c.Precert }},
	{"ownership", "text", func(c *CertRow) any { return c.Ownership }},
	{"matches_org_host", "boolean", func(c *CertRow) any { return c.MatchesOrgHost }},
	{"origin", "text", func(c *CertRow) any { return c.Origin }},
	{"first_seen", "timestamptz", func(c *CertRow) any { return c.FirstSeen }},
	{"last_seen", "timestamptz", func(c *CertRow) any { return c.LastSeen }},
	{"payload", "jsonb", func(c *CertRow) any { return string(c.Payload) }},
	{"observed_at", "timestamptz", func(c *CertRow) any { return c.ObservedAt }},
	{"received_via", "text", func(c *CertRow) any { return c.ReceivedVia }},
}

// issuance groups a precertificate with its certificate: the tbsSha256, or the sha256 while it
// is unknown.
func (c *CertRow) issuance() string {
	if c.TBSSHA256 == "" {
		return c.SHA256
	}
	return c.TBSSHA256
}

var certsTable = table[*CertRow]{name: "certificates AS c", columns: certColumns, conflict: certConflictSQL()}

// certConflictSQL merges a certificate row so that the result is the same in any order:
//   - the incoming row "wins" the descriptive columns when it ranks higher (pki.cert.new over a
//     ct.entry leaf), or ranks the same and was seen later, or was seen as late and observed later
//     (a sync's copy of a certificate Hardenize revoked since, with the same lastSeen), or, as a
//     last deterministic tie-break, has the greater payload;
//   - received_via is the winner's; between rows equal in all of that, the smallest source;
//   - first_seen is the earliest and last_seen the latest of the rows of the highest rank;
//   - a known tbs_sha256 (and so the issuance link) is never replaced by an unknown one.
func certConflictSQL() string {
	const (
		wins = `(excluded.detail > c.detail OR (excluded.detail = c.detail AND (excluded.last_seen > c.last_seen
	OR (excluded.last_seen = c.last_seen AND (excluded.observed_at > c.observed_at
	OR (excluded.observed_at = c.observed_at AND excluded.payload > c.payload))))))`
		tie = `excluded.detail = c.detail AND excluded.last_seen = c.last_seen AND excluded.observed_at = c.observed_at
	AND excluded.payload = c.payload`
		keepKnown = `CASE WHEN c.tbs_sha256 = '' THEN excluded.%[1]s WHEN excluded.tbs_sha256 = '' THEN c.%[1]s
	WHEN ` + wins + ` THEN excluded.%[1]s ELSE c.%[1]s END`
	)
	var sets []string
	for _, col := range certColumns {
		switch col.name {
		case "sha256", "detail":
		case "tbs_sha256", "issuance":
			sets = append(sets, col.name+" = "+fmt.Sprintf(keepKnown, col.name))
		case "first_seen":
			sets = append(sets, `first_seen = CASE WHEN excluded.detail > c.detail THEN excluded.first_seen
	WHEN excluded.detail < c.detail THEN c.first_seen
	WHEN excluded.first_seen < c.first_seen THEN excluded.first_seen ELSE c.first_seen END`)
		case "last_seen":
			sets = append(sets, `last_seen = CASE WHEN excluded.detail > c.detail THEN excluded.last_seen
	WHEN excluded.detail < c.detail THEN c.last_seen
	WHEN excluded.last_seen > c.last_seen THEN excluded.last_seen ELSE c.last_seen END`)
		case "received_via":
			sets = append(sets, "received_via = CASE WHEN "+wins+" THEN excluded.received_via\n\tWHEN "+tie+
				" AND excluded.received_via < c.received_via THEN excluded.received_via ELSE c.received_via END")
		default:
			sets = append(sets, col.name+" = CASE WHEN "+wins+" THEN excluded."+col.name+" ELSE c."+col.name+" END")
		}
	}
	sets = append(sets, "detail = CASE WHEN excluded.detail > c.detail THEN excluded.detail ELSE c.detail END")
	return "ON CONFLICT (sha256) DO UPDATE SET\n" + strings.Join(sets, ",\n")
}

type hostRow struct{ host, sha256 string }

var hostsTable = table[hostRow]{
	name: "cert_hosts",
	columns: []column[hostRow]{
		{"host", "text", func(h hostRow) any { return h.host }},
		{"sha256", "text", func(h hostRow) any { return h.sha256 }},
	},
	conflict: "ON CONFLICT (host, sha256) DO NOTHING",
}

// CT logs are append-only: a (log, index) names one entry forever, so the first write is final.
var entriesTable = table[*EntryRow]{
	name: "ct_entries",
	columns: []column[*EntryRow]{
		{"log", "text", func(e *EntryRow) any { return e.Log }},
		{"log_index", "bigint", func(e *EntryRow) any { return e.Index }},
		{"sha256", "text", func(e *EntryRow) any { return e.SHA256 }},
		{"tbs_sha256", "text", func(e *EntryRow) any { return e.TBSSHA256 }},
		{"precert", "boolean", func(e *EntryRow) any { return e.Precert }},
		{"logged_at", "timestamptz", func(e *EntryRow) any { return e.LoggedAt }},
		{"subject", "text", func(e *EntryRow) any { return e.Subject }},
		{"issuer", "text", func(e *EntryRow) any { return e.Issuer }},
		{"hosts", "text", func(e *EntryRow) any { return jsonList(e.Hosts) }},
		{"matched_hosts", "text", func(e *EntryRow) any { return jsonList(e.MatchedHosts) }},
	},
	conflict: "ON CONFLICT (log, log_index) DO NOTHING",
}

// The first finding of an issuance and type wins; later events of the same issuance change nothing.
var findingsTable = table[FindingRow]{
	name: "findings",
	columns: []column[FindingRow]{
		{"tbs_sha256", "text", func(f FindingRow) any { return f.TBSSHA256 }},
		{"dedup_type", "text", func(f FindingRow) any { return f.DedupType }},
		{"type", "text", func(f FindingRow) any { return f.Type }},
		{"sha256", "text", func(f FindingRow) any { return f.SHA256 }},
		{"detail", "text", func(f FindingRow) any { return f.Detail }},
		{"watch_item", "text", func(f FindingRow) any { return f.WatchItem }},
		{"threshold_days", "integer", func(f FindingRow) any { return f.ThresholdDays }},
		{"alert", "text", func(f FindingRow) any { return string(f.Alert) }},
		{"created_at", "timestamptz", func(f FindingRow) any { return f.CreatedAt }},
		{"suppressed", "boolean", func(f FindingRow) any { return f.Suppressed }},
		{"lints", "text", func(f FindingRow) any { return jsonList(f.Lints) }},
		{"trace_parent", "text", func(f FindingRow) any { return f.TraceParent }},
	},
	conflict: "ON CONFLICT (tbs_sha256, dedup_type) DO NOTHING",
}

// cert_sync_runs: one row per scheduled certificate sync; the id is the database's.
var certSyncRunsTable = table[CertSyncRun]{
	name: "cert_sync_runs",
	columns: []column[CertSyncRun]{
		{"org", "text", func(r CertSyncRun) any { return r.Org }},
		{"started_at", "timestamptz", func(r CertSyncRun) any { return Ms(r.StartedAt) }},
		{"finished_at", "timestamptz", func(r CertSyncRun) any { return Ms(r.FinishedAt) }},
		{"outcome", "text", func(r CertSyncRun) any { return r.Outcome }},
		{"certificates", "integer", func(r CertSyncRun) any { return r.Certificates }},
		{"new_certs", "integer", func(r CertSyncRun) any { return r.New }},
		{"changed", "integer", func(r CertSyncRun) any { return r.Changed }},
		{"rejected", "integer", func(r CertSyncRun) any { return r.Rejected }},
		{"error", "text", func(r CertSyncRun) any { return r.Error }},
	},
}

// A certificate's lint run is replaced whole by a later one (another zlint version or selection of
// lints); its results are deleted and written again in the same transaction (see ApplyLints).
var lintRunsTable = table[*LintRun]{
	name: "cert_lint_runs",
	columns: []column[*LintRun]{
		{"sha256", "text", func(r *LintRun) any { return r.SHA256 }},
		{"lint_version", "text", func(r *LintRun) any { return r.Version }},
		{"fingerprint", "text", func(r *LintRun) any { return r.Fingerprint }},
		{"unparsable", "boolean", func(r *LintRun) any { return r.Unparsable }},
		{"fatal", "integer", func(r *LintRun) any { return r.Counts.Fatal }},
		{"errors", "integer", func(r *LintRun) any { return r.Counts.Error }},
		{"warnings", "integer", func(r *LintRun) any { return r.Counts.Warn }},
		{"notices", "integer", func(r *LintRun) any { return r.Counts.Notice }},
		{"passed", "integer", func(r *LintRun) any { return r.Counts.Pass }},
		{"not_applicable", "integer", func(r *LintRun) any { return r.Counts.NA }},
		{"not_effective", "integer", func(r *LintRun) any { return r.Counts.NE }},
		{"linted_at", "timestamptz", func(r *LintRun) any { return r.LintedAt }},
	},
	conflict: `ON CONFLICT (sha256) DO UPDATE SET lint_version = excluded.lint_version, fingerprint = excluded.fingerprint,
unparsable = excluded.unparsable, fatal = excluded.fatal, errors = excluded.errors, warnings = excluded.warnings,
notices = excluded.notices, passed = excluded.passed, not_applicable = excluded.not_applicable,
not_effective = excluded.not_effective, linted_at = excluded.linted_at`,
}

// lintResultRow is one result of a run, with the certificate it belongs to.
type lintResultRow struct {
	sha256 string
	LintResult
}

var lintResultsTable = table[lintResultRow]{
	name: "cert_lints",
	columns: []column[lintResultRow]{
		{"sha256", "text", func(r lintResultRow) any { return r.sha256 }},
		{"lint", "text", func(r lintResultRow) any { return r.Lint }},
		{"status", "text", func(r lintResultRow) any { return r.Status }},
		{"severity", "smallint", func(r lintResultRow) any { return lintSeverity(r.Status) }},
		{"source", "text", func(r lintResultRow) any { return r.Source }},
		{"citation", "text", func(r lintResultRow) any { return r.Citation }},
		{"description", "text", func(r lintResultRow) any { return r.Description }},
		{"details", "text", func(r lintResultRow) any { return r.Details }},
	},
	conflict: `ON CONFLICT (sha256, lint) DO UPDATE SET status = excluded.status, severity = excluded.severity,
source = excluded.source, citation = excluded.citation, description = excluded.description, details = excluded.details`,
}

func jsonList(xs []string) string {
	if len(xs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(xs) // a []string always encodes
	return string(b)
}
