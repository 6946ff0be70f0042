package rules

import "time"

// Cert is what the rules need to know about one certificate or precertificate. Build it with
// FromCTEntry or FromCertificate, or fill it directly (tests, the inventory's expiry scan).
// Zero values mean "unknown" and never raise a finding on their own, except Malformed.
type Cert struct {
	SHA256     string // lowercase hex SHA-256 of the DER
	TBSSHA256  string // shared by a precertificate and its certificate; the deduplication key
	SPKISHA256 string
	Serial     string // display only
	Subject    string // DN, display only: never used to judge the issuer
	Issuer     string // DN, display only
	// Hosts are the SAN names (Unicode or A-labels; Evaluate normalises them).
	Hosts []string
	// IssuerCA is the CCADB name of the issuing CA (pki.cert.new issuerCa), or empty.
	IssuerCA string
	// ParentHashes are lowercase hex SHA-256 fingerprints of the certificates above this one:
	// pki.cert.new parentHashes, or a CT entry's chain[1:]. The first is the issuer.
	ParentHashes []string
	KeyAlg       string // "RSA", "EC", "DSA", "Ed25519"
	KeyLen       int    // bits
	KeyStrength  int    // estimated symmetric bits
	SigAlg       string // Hardenize names: RSAwithSHA256, ECDSAwithSHA1, ...
	NotBefore    time.Time
	NotAfter     time.Time
	// ValidityKnown says NotBefore and NotAfter are the certificate's own even where one is Go's
	// zero time (a real notBefore of 00010101000000Z). FromCTEntry and FromCertificate set it; in
	// a Cert filled by hand, zero times mean unknown.
	ValidityKnown bool
	// IsCA is true for CA certificates (basicConstraints cA): no CA/Browser Forum validity limit
	// applies to them.
	IsCA bool
	// NotTLSServer is true when the certificate's extended key usages exclude TLS server
	// authentication (and no Baseline Requirements policy claims it): the Baseline Requirements do
	// not govern it. False when unknown.
	NotTLSServer bool
	// EffectiveNotAfter is when the certificate stops being usable (earlier than NotAfter for
	// distrusted CAs); NotAfter when unknown.
	EffectiveNotAfter time.Time
	Wildcard          bool
	SelfSigned        bool
	Revoked           bool
	CTRequired        *bool
	CTCompliant       *bool
	Ownership         string // "own" or "thirdParty"
	MatchesOrgHost    bool
	Precert           bool
	// Malformed is true when neither crypto/x509 nor zcrypto could parse the certificate bytes;
	// ParseError says why. The other fields then hold whatever the payload itself stated. A
	// certificate only zcrypto reads is not malformed: its fields come from zcrypto.
	Malformed  bool
	ParseError string
}

// Ownership values of pki.cert.new.
const (
	OwnershipOwn        = "own"
	OwnershipThirdParty = "thirdParty"
)
