-- Findings of the policy rules (internal/rules): one row per issuance (tbs_sha256) and deduplication
-- type (the finding type, or expiringSoon/<days>), however many events of the issuance broke the
-- rule. The row is also the alert's outbox: alert holds the message published on HZ_ALERTS and
-- published_at stays NULL until HZ_ALERTS acknowledged it.
CREATE TABLE findings (
    tbs_sha256     TEXT    NOT NULL,
    dedup_type     TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    sha256         TEXT    NOT NULL, -- the certificate or precertificate the finding was made on
    detail         TEXT    NOT NULL,
    watch_item     TEXT    NOT NULL,
    threshold_days INTEGER NOT NULL,
    alert          TEXT    NOT NULL, -- JSON alerts.Alert
    created_at     INTEGER NOT NULL,
    published_at   INTEGER,
    PRIMARY KEY (tbs_sha256, dedup_type)
);
CREATE INDEX findings_type ON findings (type, created_at);
CREATE INDEX findings_sha256 ON findings (sha256);
CREATE INDEX findings_created_at ON findings (created_at);
CREATE INDEX findings_unpublished ON findings (tbs_sha256) WHERE published_at IS NULL;

-- effectiveNotAfter (earlier than notAfter for a distrusted CA) drives the expiry scan. Rows written
-- before this migration take notAfter until their next event rewrites them.
ALTER TABLE certificates ADD COLUMN effective_not_after INTEGER NOT NULL DEFAULT 0;
UPDATE certificates SET effective_not_after = not_after;
CREATE INDEX certificates_effective_not_after ON certificates (effective_not_after);
