// Package lint lints one certificate or precertificate with zlint (github.com/zmap/zlint/v3), the
// linter crt.sh runs on every certificate it sees, parsing the DER with zcrypto as zlint requires.
//
// A Linter is built once from a Config (the zlint registry is filtered then, never per
// certificate) and is safe for concurrent use. Lint is pure: the same DER and Config give the same
// Report, so a caller may lint each certificate once, keyed by its SHA-256, and store the Report.
// zcrypto reads many certificates crypto/x509 refuses (a malformed SAN, a critical AIA, a bad name
// constraint), so such certificates are linted too; only DER that zcrypto cannot parse either
// gives ErrUnparsable.
//
// Which results become alerts is policy, kept apart in AlertPolicy: by default the error- and
// fatal-level CA/Browser Forum Baseline Requirements and RFC 5280 lints on final certificates.
package lint
