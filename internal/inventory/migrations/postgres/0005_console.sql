-- The console: authorizations made in the console or through the admin API (beside the rules
-- file's, which Kubernetes mounts read-only), who authorized each finding and when, and the indexes
-- of the overview's queries.
CREATE TABLE authorizations (
    id          TEXT        NOT NULL PRIMARY KEY, -- digest of what is authorized: the same authorization is stored once
    tbs_sha256  TEXT        NOT NULL,             -- one issuance, or ''
    spki_sha256 TEXT        NOT NULL,             -- a key, or ''
    names       TEXT        NOT NULL,             -- JSON array: the names the key is authorized for
    note        TEXT        NOT NULL,
    author      TEXT        NOT NULL,             -- "console", "api", "hzctl"
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX authorizations_created_at ON authorizations (created_at);

-- An authorized finding's alert is never published (the outbox skips it).
ALTER TABLE findings ADD COLUMN authorized_at TIMESTAMPTZ;
ALTER TABLE findings ADD COLUMN authorized_by TEXT NOT NULL DEFAULT '';

-- Feed health: the newest event per type and source.
CREATE INDEX received_events_type_source ON received_events (type, source, received_at);
-- Expiring issuances and issuances per day, read from the index alone.
CREATE INDEX certificates_not_after_issuance ON certificates (not_after, issuance);
CREATE INDEX certificates_not_before_issuance ON certificates (not_before, issuance);
