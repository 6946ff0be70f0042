-- zlint results of the lint stage (internal/linting), keyed by the certificate's sha256 and never
-- requiring its certificates row: the stage may lint a certificate before the event writer stores
-- it. cert_lint_runs has one row per linted certificate or precertificate: the zlint version and
-- the fingerprint of the lints that ran (lint.Linter.Fingerprint; another fingerprint makes the
-- certificate due again) and how many lints gave each status. cert_lints holds the results worth
-- showing (fatal, error, warn, notice); passes and lints that did not apply are only counted.
CREATE TABLE cert_lint_runs (
    sha256         TEXT    NOT NULL PRIMARY KEY,
    lint_version   TEXT    NOT NULL,
    fingerprint    TEXT    NOT NULL,
    unparsable     INTEGER NOT NULL, -- 1: zcrypto cannot parse the DER, nothing was linted
    fatal          INTEGER NOT NULL,
    errors         INTEGER NOT NULL,
    warnings       INTEGER NOT NULL,
    notices        INTEGER NOT NULL,
    passed         INTEGER NOT NULL,
    not_applicable INTEGER NOT NULL,
    not_effective  INTEGER NOT NULL,
    linted_at      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE cert_lints (
    sha256      TEXT    NOT NULL,
    lint        TEXT    NOT NULL, -- zlint's name, e.g. e_rsa_mod_less_than_2048_bits
    status      TEXT    NOT NULL, -- fatal, error, warn, notice
    severity    INTEGER NOT NULL, -- 0 fatal, 1 error, 2 warn, 3 notice: most severe first
    source      TEXT    NOT NULL, -- CABF_BR, RFC5280, Mozilla, ...
    citation    TEXT    NOT NULL,
    description TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    PRIMARY KEY (sha256, lint)
) WITHOUT ROWID;
CREATE INDEX cert_lints_lint ON cert_lints (lint, status, sha256);
CREATE INDEX cert_lints_status ON cert_lints (status, sha256);

-- The lints a lintError finding names (JSON array), as its alert does.
ALTER TABLE findings ADD COLUMN lints TEXT NOT NULL DEFAULT '[]';
