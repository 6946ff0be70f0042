// Package rules is hzhook's certificate policy: the rules file (watched names, allowed issuing CAs,
// rule switches and thresholds, authorizations), its validation and reload, and the pure evaluation
// of one certificate against it into findings.
//
// Evaluation never touches a store or the network: Evaluate and ExpiryDue take a Cert (built from a
// ct.entry or pki.cert.new payload by FromCTEntry or FromCertificate) and return findings. The
// caller stores each finding at most once per issuance: the deduplication key is
// (Finding.TBSSHA256, Finding.DedupType()) — a precertificate, its certificate and all their CT
// entries share tbsSha256, so one issuance yields at most one finding of each type (expiringSoon
// findings additionally carry their threshold in DedupType, so each threshold fires once).
package rules
