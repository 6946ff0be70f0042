package events

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// MatchedCtEntry is the ct.entry payload: a CT log entry that Hardenize
// matched against the account.
type MatchedCtEntry struct {
	// Log is the CT log URL without scheme.
	Log string `json:"log"`
	// Index is the entry's index in the log. (The seed swaps the
	// descriptions of index and timestamp; the example values settle it.)
	Index int64 `json:"index"`
	// Timestamp is the entry's timestamp in milliseconds since the epoch.
	Timestamp int64 `json:"timestamp"`
	// SHA256 is the lowercase hex SHA-256 of the leaf DER (chain[0]).
	SHA256 string `json:"sha256"`
	// TBSSHA256 is the lowercase hex SHA-256 of the TBSCertificate, shared by
	// a precertificate and its certificate.
	TBSSHA256 string   `json:"tbsSha256"`
	Precert   bool     `json:"precert"`
	Subject   string   `json:"subject"`
	Issuer    string   `json:"issuer"`
	Hosts     []string `json:"hosts"`
	// Chain is the base64 (standard) DER chain from the log entry, leaf first.
	Chain        []string `json:"chain"`
	MatchedHosts []string `json:"matchedHosts"`
}

// DecodeCTEntry decodes and validates the ct.entry payload in e.Data and
// parses its leaf. It requires log, sha256 and tbsSha256 (64 hex digits,
// returned lowercased) and a non-empty chain of base64 DER whose first
// element hashes to sha256. e.Type is not checked. Every err is a
// *PermanentError naming the field.
//
// A leaf that hashes to sha256 but that crypto/x509 cannot parse is not an
// error: it is what the CT log holds, and such entries must be stored and
// alerted (malformed), never dropped. leaf is then nil and parseErr says
// why, as DecodeCertificate does. Precertificates (critical CT poison
// extension) parse like any certificate.
func DecodeCTEntry(e Event) (entry MatchedCtEntry, leaf *x509.Certificate, parseErr error, err error) {
	var m MatchedCtEntry
	if err := json.Unmarshal(e.Data, &m); err != nil {
		return MatchedCtEntry{}, nil, nil, ctErr("data", err)
	}
	if m.Log == "" {
		return MatchedCtEntry{}, nil, nil, ctErr("log", errMissing)
	}
	if m.Index < 0 {
		return MatchedCtEntry{}, nil, nil, ctErr("index", errNegative)
	}
	if m.Timestamp < 0 {
		return MatchedCtEntry{}, nil, nil, ctErr("timestamp", errNegative)
	}
	if m.SHA256, err = requiredSHA256(m.SHA256); err != nil {
		return MatchedCtEntry{}, nil, nil, ctErr("sha256", err)
	}
	if m.TBSSHA256, err = requiredSHA256(m.TBSSHA256); err != nil {
		return MatchedCtEntry{}, nil, nil, ctErr("tbsSha256", err)
	}
	if len(m.Chain) == 0 {
		return MatchedCtEntry{}, nil, nil, ctErr("chain", errMissing)
	}
	der, err := decodeDER(m.Chain[0], m.SHA256)
	if err != nil {
		return MatchedCtEntry{}, nil, nil, ctErr("chain[0]", err)
	}
	// The rest of the chain is only checked for encoding: later code may
	// want the issuer, and a broken one is as unfixable as a broken leaf.
	for i, c := range m.Chain[1:] {
		if _, err := decodeDER(c, ""); err != nil {
			return MatchedCtEntry{}, nil, nil, ctErr("chain["+strconv.Itoa(i+1)+"]", err)
		}
	}
	leaf, parseErr = x509.ParseCertificate(der)
	if parseErr != nil {
		return m, nil, fmt.Errorf("decode %s: chain[0]: parse certificate: %w", TypeCTEntry, parseErr), nil
	}
	return m, leaf, nil, nil
}

var (
	errMissing  = errors.New("missing")
	errNegative = errors.New("negative")
)

func requiredSHA256(s string) (string, error) {
	if s == "" {
		return "", errMissing
	}
	return normaliseSHA256(s)
}

func ctErr(field string, err error) error {
	return Permanent(fmt.Errorf("decode %s: %s: %w", TypeCTEntry, field, err))
}
