package console_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
)

// issuance is a certificate and its precertificate (same TBS but for the CT poison extension), as
// a CA would issue them, with the ct.entry bodies Hardenize would send for each.
type issuance struct {
	caDER               []byte
	certDER, preDER     []byte
	sha, preSHA, tbs    string
	spki, subject       string
	hosts               []string
	notBefore, notAfter time.Time
	key                 *ecdsa.PrivateKey
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// newIssuance issues a leaf for cn and hosts (any strings: CT logs take anything) from a fresh CA.
func newIssuance(t testing.TB, cn string, hosts []string, notBefore, notAfter time.Time) issuance {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return issueWith(t, cn, hosts, notBefore, notAfter, key)
}

// renewal is a new issuance for the same names on the same key, a day later.
func (is issuance) renewal(t testing.TB) issuance {
	t.Helper()
	return issueWith(t, strings.TrimPrefix(is.subject, "CN="), is.hosts, is.notBefore.Add(24*time.Hour), is.notAfter.Add(24*time.Hour), is.key)
}

func issueWith(t testing.TB, cn string, hosts []string, notBefore, notAfter time.Time, key *ecdsa.PrivateKey) issuance {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Console Test CA", Organization: []string{"Console Test CA Org"}},
		NotBefore: notBefore.AddDate(-1, 0, 0), NotAfter: notAfter.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err = x509.ParseCertificate(caDER)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	require.NoError(t, err)
	tmpl := x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: hosts,
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	certDER, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	pre := tmpl
	pre.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}, Critical: true, Value: []byte{0x05, 0x00}}} // ASN.1 NULL (RFC 6962, 3.1)
	preDER, err := x509.CreateCertificate(rand.Reader, &pre, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(certDER)
	require.NoError(t, err)
	return issuance{caDER: caDER, certDER: certDER, preDER: preDER, sha: hexSum(certDER), preSHA: hexSum(preDER),
		tbs: hexSum(cert.RawTBSCertificate), spki: hexSum(cert.RawSubjectPublicKeyInfo), subject: "CN=" + cn, hosts: hosts,
		notBefore: notBefore, notAfter: notAfter, key: key}
}

// ctEntry is the body of event id: the CT entry at index of the precertificate or the certificate.
func (is issuance) ctEntry(t testing.TB, id int64, precert bool, index int64, at time.Time) []byte {
	t.Helper()
	der, sha := is.certDER, is.sha
	if precert {
		der, sha = is.preDER, is.preSHA
	}
	body, err := json.Marshal(map[string]any{
		"id": id, "type": events.TypeCTEntry, "createdOn": at.UTC().Format("2006-01-02T15:04:05.000Z"), "apiVersion": "0.14.0",
		"data": events.MatchedCtEntry{
			Log: "ct.example.net/console", Index: index, Timestamp: at.UnixMilli(), SHA256: sha, TBSSHA256: is.tbs, Precert: precert,
			Subject: is.subject, Issuer: "CN=Console Test CA, O=Console Test CA Org", Hosts: is.hosts,
			Chain:        []string{base64.StdEncoding.EncodeToString(der), base64.StdEncoding.EncodeToString(is.caDER)},
			MatchedHosts: is.hosts[len(is.hosts)-1:],
		},
	})
	require.NoError(t, err)
	return body
}
