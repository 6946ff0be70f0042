package rules

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	zx509 "github.com/zmap/zcrypto/x509"

	"github.com/hzhook/hzhook/internal/events"
)

// testCA is an issuing CA built for a test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	sha  string
}

func newCA(t *testing.T, name string) testCA {
	t.Helper()
	return newCAWithKey(t, name, ecKey(t, elliptic.P256()))
}

func newCAWithKey(t *testing.T, name string, key crypto.Signer) testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return testCA{cert: cert, key: key, sha: hexSHA(der)}
}

// leafOpts describe a leaf; the zero value is a clean 90-day EC P-256 certificate for
// www.example.com.
type leafOpts struct {
	key        crypto.Signer // default: a fresh EC P-256 key
	hosts      []string
	notBefore  time.Time
	days       int // validity in days (inclusive, RFC 5280); default 90
	precert    bool
	sctList    bool // embed an SCT list extension, as a final certificate does
	serial     int64
	sigOID     asn1.ObjectIdentifier // patch the signature algorithm OID (see legacySigDER)
	selfSigned bool
	notAfter   time.Time          // overrides days, e.g. 99991231235959Z
	isCA       bool               // a CA certificate (basicConstraints cA)
	eku        []x509.ExtKeyUsage // default serverAuth
	dupExt     bool               // a private extension twice: crypto/x509 refuses it, zcrypto reads it
}

var (
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidMD5WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
)

func rsaKey(t *testing.T, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(t, err)
	return k
}

func ecKey(t *testing.T, c elliptic.Curve) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return k
}

// issue returns the DER of a leaf issued by ca according to o.
func issue(t *testing.T, ca testCA, o leafOpts) []byte {
	t.Helper()
	if o.key == nil {
		o.key = ecKey(t, elliptic.P256())
	}
	if len(o.hosts) == 0 {
		o.hosts = []string{"www.example.com"}
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if o.days == 0 {
		o.days = 90
	}
	if o.serial == 0 {
		o.serial = 4242
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(o.serial), Subject: pkix.Name{CommonName: o.hosts[0]},
		DNSNames:  o.hosts,
		NotBefore: o.notBefore, NotAfter: o.notBefore.Add(time.Duration(o.days)*24*time.Hour - time.Second),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if !o.notAfter.IsZero() {
		tmpl.NotAfter = o.notAfter
	}
	if o.isCA {
		tmpl.BasicConstraintsValid, tmpl.IsCA, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	}
	if o.eku != nil {
		tmpl.ExtKeyUsage = o.eku
	}
	if o.dupExt {
		ext := pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: asn1.NullBytes}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext, ext)
	}
	if o.precert {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions,
			pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes})
	}
	if o.sctList {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidSCTList, Value: []byte{0x04, 0x02, 0x00, 0x00}})
	}
	parent, signer := ca.cert, ca.key
	if o.selfSigned {
		parent, signer = tmpl, o.key
	}
	if _, isRSA := signer.(*rsa.PrivateKey); isRSA && o.sigOID != nil {
		tmpl.SignatureAlgorithm = x509.SHA256WithRSA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, o.key.Public(), signer)
	require.NoError(t, err)
	if o.sigOID != nil {
		der = legacySigDER(t, der, o.sigOID)
	}
	return der
}

// legacySigDER rewrites the signature algorithm of an RSA/SHA-256 certificate to oid.
// crypto/x509 refuses to sign with SHA-1 (and MD5/MD2), so the certificate is signed with SHA-256
// and both copies of the AlgorithmIdentifier (in the TBSCertificate and the outer Certificate) are
// patched: the OIDs have the same length, so the DER stays well formed. The signature no longer
// verifies, which does not matter: the legacySignature rule reads sigAlg (here the parsed
// SignatureAlgorithm), never verifies it.
func legacySigDER(t *testing.T, der []byte, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	from, err := asn1.Marshal(oidSHA256WithRSA)
	require.NoError(t, err)
	to, err := asn1.Marshal(oid)
	require.NoError(t, err)
	require.Len(t, to, len(from))
	require.Equal(t, 2, bytes.Count(der, from))
	return bytes.ReplaceAll(der, from, to)
}

func parse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

// facts are what the test payloads state about a certificate, read by crypto/x509 or, for a
// certificate it refuses (dupExt), by zcrypto.
type facts struct {
	tbs, subject, issuer, serial string
	hosts                        []string
	notBefore, notAfter          time.Time
	spki                         []byte
	precert                      bool
}

func factsOf(t *testing.T, der []byte) facts {
	t.Helper()
	if c, err := x509.ParseCertificate(der); err == nil {
		tbs, err := IssuanceTBSSHA256(c)
		require.NoError(t, err)
		return facts{tbs, c.Subject.String(), c.Issuer.String(), c.SerialNumber.Text(16), c.DNSNames,
			c.NotBefore, c.NotAfter, c.RawSubjectPublicKeyInfo, isPrecert(c)}
	}
	z, err := zx509.ParseCertificate(der)
	require.NoError(t, err)
	tbs, err := issuanceTBSSHA256(z.RawTBSCertificate)
	require.NoError(t, err)
	return facts{tbs, z.Subject.String(), z.Issuer.String(), z.SerialNumber.Text(16), z.DNSNames,
		z.NotBefore, z.NotAfter, z.RawSubjectPublicKeyInfo, z.IsPrecert}
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ctEntry is the ct.entry payload of leaf as logged with chain, as events.DecodeCTEntry returns it.
func ctEntry(t *testing.T, leafDER []byte, log string, chain ...testCA) events.MatchedCtEntry {
	t.Helper()
	f := factsOf(t, leafDER)
	e := events.MatchedCtEntry{
		Log: log, SHA256: hexSHA(leafDER), TBSSHA256: f.tbs, Precert: f.precert,
		Subject: f.subject, Issuer: f.issuer, Hosts: f.hosts, MatchedHosts: f.hosts,
		Chain: []string{base64.StdEncoding.EncodeToString(leafDER)},
	}
	for _, ca := range chain {
		e.Chain = append(e.Chain, base64.StdEncoding.EncodeToString(ca.cert.Raw))
	}
	return e
}

// certificate is the pki.cert.new payload of leaf, with Hardenize's own judgements left zero.
func certificate(t *testing.T, leafDER []byte, issuerCA string, parents ...testCA) events.Certificate {
	t.Helper()
	f := factsOf(t, leafDER)
	c := events.Certificate{
		SHA256: hexSHA(leafDER), TBSSHA256: f.tbs, Serial: f.serial,
		Subject: f.subject, Issuer: f.issuer, IssuerCA: issuerCA,
		NotBefore: f.notBefore, NotAfter: f.notAfter, EffectiveNotAfter: f.notAfter,
		Hosts: f.hosts, Precert: f.precert, Ownership: OwnershipOwn,
		PEM: base64.StdEncoding.EncodeToString(leafDER), SPKISHA256: hexSHA(f.spki),
	}
	for _, p := range parents {
		c.ParentHashes = append(c.ParentHashes, p.sha)
	}
	return c
}

func types(fs []Finding) []Type {
	out := []Type{}
	for _, f := range fs {
		out = append(out, f.Type)
	}
	return out
}

func mustParse(t *testing.T, yml string) *Policy {
	t.Helper()
	p, err := Parse([]byte(yml))
	require.NoError(t, err)
	return p
}
