-- Times are TIMESTAMPTZ (millisecond precision, as in SQLite); the payload is JSONB.
CREATE TABLE received_events (
    org         TEXT    NOT NULL,
    hook_id     TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    created_on  TIMESTAMPTZ NOT NULL,
    source      TEXT    NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org, hook_id, event_id)
);

CREATE TABLE certificates (
    sha256           TEXT    NOT NULL PRIMARY KEY,
    tbs_sha256       TEXT    NOT NULL,
    issuance         TEXT    NOT NULL, -- tbs_sha256, or sha256 when unknown: one value per issuance
    detail           SMALLINT NOT NULL, -- 0 built from a ct.entry leaf, 1 described by pki.cert.new
    subject          TEXT    NOT NULL,
    issuer           TEXT    NOT NULL,
    issuer_ca        TEXT    NOT NULL,
    serial           TEXT    NOT NULL,
    not_before       TIMESTAMPTZ NOT NULL,
    not_after        TIMESTAMPTZ NOT NULL,
    hosts            TEXT    NOT NULL, -- JSON array
    key_alg          TEXT    NOT NULL,
    key_len          INTEGER NOT NULL,
    key_strength     INTEGER NOT NULL,
    sig_alg          TEXT    NOT NULL,
    wildcard         BOOLEAN NOT NULL,
    self_signed      BOOLEAN NOT NULL,
    precert          BOOLEAN NOT NULL,
    ownership        TEXT    NOT NULL,
    matches_org_host BOOLEAN NOT NULL,
    origin           TEXT    NOT NULL,
    first_seen       TIMESTAMPTZ NOT NULL,
    last_seen        TIMESTAMPTZ NOT NULL,
    payload          JSONB   NOT NULL
);
CREATE INDEX certificates_issuance ON certificates (issuance);
CREATE INDEX certificates_not_after ON certificates (not_after);
CREATE INDEX certificates_first_seen ON certificates (first_seen);

CREATE TABLE ct_entries (
    log           TEXT    NOT NULL,
    log_index     BIGINT NOT NULL,
    sha256        TEXT    NOT NULL,
    tbs_sha256    TEXT    NOT NULL,
    precert       BOOLEAN NOT NULL,
    logged_at     TIMESTAMPTZ NOT NULL,
    subject       TEXT    NOT NULL,
    issuer        TEXT    NOT NULL,
    hosts         TEXT    NOT NULL, -- JSON array
    matched_hosts TEXT    NOT NULL, -- JSON array
    PRIMARY KEY (log, log_index)
);
CREATE INDEX ct_entries_sha256 ON ct_entries (sha256);

CREATE TABLE cert_hosts (
    host   TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (host, sha256)
);
CREATE INDEX cert_hosts_sha256 ON cert_hosts (sha256, host);
