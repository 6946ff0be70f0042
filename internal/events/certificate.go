package events

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"
)

// Certificate is the pki.cert.new payload: one certificate or
// precertificate known to the account, with all fields of the seed's
// Certificate schema. Hex fingerprints and the serial are lowercase after
// DecodeCertificate. Optional fields are pointers or omitted when empty.
type Certificate struct {
	SHA256            string     `json:"sha256"`
	TBSSHA256         string     `json:"tbsSha256,omitempty"`
	Subject           string     `json:"subject"`
	Serial            string     `json:"serial"`
	Issuer            string     `json:"issuer"`
	IssuerCA          string     `json:"issuerCa,omitempty"`
	Validation        string     `json:"validation,omitempty"`
	NotBefore         time.Time  `json:"notBefore"`
	NotAfter          time.Time  `json:"notAfter"`
	EffectiveNotAfter time.Time  `json:"effectiveNotAfter"`
	RevokedOn         *time.Time `json:"revokedOn,omitempty"`
	KeyAlg            string     `json:"keyAlg"`
	KeyLen            int        `json:"keyLen"`
	KeyStrength       int        `json:"keyStrength"`
	SigAlg            string     `json:"sigAlg"`
	SPKISHA256        string     `json:"spkiSha256"`
	// Hosts are the SAN entries (hostnames and IP addresses) as Unicode.
	Hosts    []string `json:"hosts"`
	SANCount int      `json:"sanCount,omitempty"`
	// CAPathLen is -1 for leaves and 2147483647 for CAs without a limit.
	CAPathLen      int         `json:"caPathLen"`
	Wildcard       bool        `json:"wildcard"`
	SelfSigned     bool        `json:"selfSigned"`
	FirstSeen      time.Time   `json:"firstSeen"`
	LastSeen       time.Time   `json:"lastSeen"`
	SeenInstalled  bool        `json:"seenInstalled"`
	Active         bool        `json:"active"`
	Precert        bool        `json:"precert"`
	Duplicate      bool        `json:"duplicate"`
	Managed        bool        `json:"managed"`
	Ownership      string      `json:"ownership"`
	MatchesOrgHost bool        `json:"matchesOrgHost"`
	SymantecStatus string      `json:"symantecStatus,omitempty"`
	CTRequired     *bool       `json:"ctRequired,omitempty"`
	CTCompliant    *bool       `json:"ctCompliant,omitempty"`
	CTLogs         []CertCtLog `json:"ctLogs"`
	// PEM is, despite its name, the base64 (standard) DER of the certificate.
	PEM    string `json:"pem"`
	Origin string `json:"origin"`
	// OriginInfo is kept raw: its shape depends on Origin.
	OriginInfo           json.RawMessage `json:"originInfo,omitempty"`
	ParentHashes         []string        `json:"parentHashes,omitempty"`
	ParentHashesSource   string          `json:"parentHashesSource,omitempty"`
	ParentHashesComplete *bool           `json:"parentHashesComplete,omitempty"`
}

// CertCtLog is one observation of a certificate in a CT log.
type CertCtLog struct {
	Log string `json:"log"`
	// Timestamp is in milliseconds since the epoch.
	Timestamp int64 `json:"timestamp"`
	// Index is set only when the entry was observed directly in the log.
	Index *int64 `json:"index,omitempty"`
	// Type is "cert" or "precert".
	Type    string   `json:"type"`
	Sources []string `json:"sources"`
}

// DecodeCertificate decodes and validates the pki.cert.new payload in
// e.Data. It requires sha256 (64 hex digits), serial (hex), notBefore,
// notAfter (present and not null; Go's zero time 0001-01-01T00:00:00Z is a
// value some real certificates carry, not an absence) and pem, whose base64 DER must hash to sha256; optional hex
// fingerprints (tbsSha256, spkiSha256, parentHashes) must be well formed.
// Fingerprints and serial are returned lowercased. e.Type is not checked.
//
// A certificate that crypto/x509 cannot parse is still a valid event (it is
// stored and alerted on): then parsed is nil, parseErr says why, and err is
// nil. err is a *PermanentError naming the field for any other problem.
func DecodeCertificate(e Event) (c Certificate, parsed *x509.Certificate, parseErr error, err error) {
	// Presence is not the same as a non-zero value: a real certificate may say notBefore
	// 00010101000000Z, which is Go's zero time, and it must be stored, not refused. The pointer
	// fields shadow the embedded ones (shallower wins in encoding/json), so one pass tells both.
	in := struct {
		*certificateFields
		NotBefore *time.Time `json:"notBefore"`
		NotAfter  *time.Time `json:"notAfter"`
	}{certificateFields: (*certificateFields)(&c)}
	if err := json.Unmarshal(e.Data, &in); err != nil {
		return Certificate{}, nil, nil, certErr("data", err)
	}
	if c.SHA256, err = requiredSHA256(c.SHA256); err != nil {
		return Certificate{}, nil, nil, certErr("sha256", err)
	}
	if c.Serial == "" {
		return Certificate{}, nil, nil, certErr("serial", errMissing)
	}
	if c.Serial, err = normaliseHex(c.Serial); err != nil {
		return Certificate{}, nil, nil, certErr("serial", err)
	}
	if in.NotBefore == nil {
		return Certificate{}, nil, nil, certErr("notBefore", errMissing)
	}
	if in.NotAfter == nil {
		return Certificate{}, nil, nil, certErr("notAfter", errMissing)
	}
	c.NotBefore, c.NotAfter = *in.NotBefore, *in.NotAfter
	if c.TBSSHA256 != "" {
		if c.TBSSHA256, err = normaliseSHA256(c.TBSSHA256); err != nil {
			return Certificate{}, nil, nil, certErr("tbsSha256", err)
		}
	}
	if c.SPKISHA256 != "" {
		if c.SPKISHA256, err = normaliseSHA256(c.SPKISHA256); err != nil {
			return Certificate{}, nil, nil, certErr("spkiSha256", err)
		}
	}
	for i, h := range c.ParentHashes {
		if c.ParentHashes[i], err = normaliseSHA256(h); err != nil {
			return Certificate{}, nil, nil, certErr(fmt.Sprintf("parentHashes[%d]", i), err)
		}
	}
	if c.PEM == "" {
		return Certificate{}, nil, nil, certErr("pem", errMissing)
	}
	der, err := decodeDER(c.PEM, c.SHA256)
	if err != nil {
		return Certificate{}, nil, nil, certErr("pem", err)
	}
	parsed, perr := x509.ParseCertificate(der)
	if perr != nil {
		return c, nil, fmt.Errorf("decode %s: pem: parse certificate: %w", TypeCertNew, perr), nil
	}
	return c, parsed, nil, nil
}

// certificateFields is Certificate without its methods, for decoding it inside another struct.
type certificateFields Certificate

func certErr(field string, err error) error {
	return Permanent(fmt.Errorf("decode %s: %s: %w", TypeCertNew, field, err))
}
