-- Certificates from the Hardenize certificate API (hzctl certs import, worker --cert-sync-every).
--
-- observed_at: when the row's data was true (the event's createdOn; for an import or a sync, when
-- the API's listing was taken). Among rows of equal rank and lastSeen the later observation wins,
-- so a sync that finds a certificate revoked or reclassified replaces the older copy. Rows written
-- before this migration count as observed at the epoch.
-- received_via: the Hz-Source of the event whose data the row holds (webhook, pubsub, backfill,
-- import, sync); '' for rows written before this migration.
ALTER TABLE certificates ADD COLUMN observed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN received_via TEXT NOT NULL DEFAULT '';

-- A suppressed finding is recorded and shown but never alerted (an import's history): the outbox
-- skips it, so it leaves the index of unpublished findings.
ALTER TABLE findings ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0;
DROP INDEX findings_unpublished;
CREATE INDEX findings_unpublished ON findings (tbs_sha256) WHERE published_at IS NULL AND suppressed = false;

-- One row per scheduled certificate sync, written by the worker that ran it; the newest 1000 are
-- kept.
CREATE TABLE cert_sync_runs (
    id           INTEGER NOT NULL PRIMARY KEY,
    org          TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL,
    outcome      TEXT    NOT NULL, -- ok or failed
    certificates INTEGER NOT NULL, -- certificate objects the API listed
    new_certs    INTEGER NOT NULL, -- not in the inventory before: sent to be stored
    changed      INTEGER NOT NULL, -- different from the inventory's copy: sent to be stored again
    rejected     INTEGER NOT NULL, -- objects that are not valid certificates: not stored
    error        TEXT    NOT NULL  -- why the run failed; '' when it did not
);
