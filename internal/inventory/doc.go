// Package inventory is hzhook's certificate store: certificates, CT log entries, host names and
// findings in SQLite (embedded, the default) or PostgreSQL (several worker replicas) behind one
// implementation, with the queries of the read API. internal/ingest turns events into its rows and
// internal/findings publishes the alerts of its findings; this package only stores and reads.
//
// # Model
//
//   - received_events: one row per processed event, keyed by (org, hook id, event id) — the same key
//     as the JetStream message id, so a redelivery, a webhook retry and a Pub/Sub copy of one event
//     are one row. The earliest receipt wins its received_at and source.
//   - certificates: keyed by sha256 (of the DER). Every column a query filters or sorts on, plus the
//     full payload JSON. A row described by pki.cert.new (source "pki.cert.new") is never replaced by
//     the poorer row built from a ct.entry leaf (source "ct.entry"). Among rows of equal rank the one
//     with the later lastSeen wins the descriptive columns; firstSeen is the earliest, lastSeen the
//     latest seen; between rows seen as late, the later observation (observed_at: the event's
//     createdOn, or when the certificate API's listing was taken) wins, so a sync that finds a
//     certificate revoked replaces the older copy. received_via keeps how the winning row came
//     (webhook, pubsub, backfill, import, sync). A precertificate and its certificate share
//     tbsSha256 (taken from the payload: Hardenize hashes a precertificate's TBS without the
//     poison extension).
//   - ct_entries: keyed by (log, index), linked to the certificate sha256. CT logs are append-only,
//     so a (log, index) never changes its content.
//   - cert_hosts: (host, sha256), lowercased; the union of every host list seen for a certificate.
//   - findings: one per issuance and deduplication type, with the alert it sends (the outbox); a
//     suppressed finding (an import's history) is recorded and never sent.
//   - cert_sync_runs: one row per run of the worker's certificate sync (CertSyncRuns).
//   - cert_lint_runs, cert_lints: what zlint found on a certificate (internal/linting writes them
//     with ApplyLints), keyed by sha256 without requiring its certificates row; a run is replaced
//     whole when the certificate is linted again with another zlint version or selection of lints.
//
// Every write is an upsert whose result does not depend on the order or the number of times events
// arrive: the same events delivered twice, in any order, give identical rows.
//
// # Writes
//
// Store.Apply writes the rows of a batch of events (Write) in one transaction. Each table is
// described once (tables.go): its columns, their PostgreSQL types and how a row gives each value,
// from which both the SQLite statements and PostgreSQL's one-statement-per-table unnest form are
// built.
package inventory
