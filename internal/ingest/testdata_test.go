package ingest

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
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
)

// testCA issues test issuances: a precertificate (critical CT poison) and its certificate.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	der  []byte
}

var oidPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Issuing CA", Organization: []string{"Test CA Org"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{key: key, cert: cert, der: der}
}

// issuance is one precertificate and its certificate.
type issuance struct {
	ca                 *testCA
	hosts              []string
	notBefore          time.Time
	notAfter           time.Time
	precert, cert      []byte
	precertSHA, certSH string
	tbs                string
}

func (ca *testCA) issue(t testing.TB, serial int64, hosts []string, notBefore, notAfter time.Time) *issuance {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	tmpl.ExtraExtensions = []pkix.Extension{{Id: oidPoison, Critical: true, Value: []byte{0x05, 0x00}}}
	preDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(certDER)
	require.NoError(t, err)
	return &issuance{
		ca: ca, hosts: hosts, notBefore: notBefore.UTC().Truncate(time.Second), notAfter: notAfter.UTC().Truncate(time.Second),
		precert: preDER, cert: certDER, precertSHA: hexSum(preDER), certSH: hexSum(certDER),
		// Hardenize's tbsSha256 of both is the hash of the TBS without poison: the certificate's.
		tbs: hexSum(cert.RawTBSCertificate),
	}
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ctEntry is the ct.entry payload of the precertificate (pre) or certificate in log at index.
func (is *issuance) ctEntry(pre bool, log string, index int64, ts time.Time) events.MatchedCtEntry {
	der, sha := is.cert, is.certSH
	if pre {
		der, sha = is.precert, is.precertSHA
	}
	return events.MatchedCtEntry{
		Log: log, Index: index, Timestamp: ts.UnixMilli(), SHA256: sha, TBSSHA256: is.tbs, Precert: pre,
		Subject: "CN=" + is.hosts[0], Issuer: "CN=Test Issuing CA, O=Test CA Org", Hosts: is.hosts,
		Chain:        []string{base64.StdEncoding.EncodeToString(der), base64.StdEncoding.EncodeToString(is.ca.der)},
		MatchedHosts: is.hosts[:1],
	}
}

// certNew is the pki.cert.new payload of the precertificate (pre) or certificate.
func (is *issuance) certNew(pre bool, ownership string, firstSeen, lastSeen time.Time) events.Certificate {
	der, sha := is.cert, is.certSH
	if pre {
		der, sha = is.precert, is.precertSHA
	}
	wildcard := false
	for _, h := range is.hosts {
		wildcard = wildcard || h[0] == '*'
	}
	return events.Certificate{
		SHA256: sha, TBSSHA256: is.tbs, Subject: "CN=" + is.hosts[0], Serial: "0a",
		Issuer: "CN=Test Issuing CA, O=Test CA Org", IssuerCA: "Test CA", NotBefore: is.notBefore, NotAfter: is.notAfter,
		EffectiveNotAfter: is.notAfter, KeyAlg: "EC", KeyLen: 256, KeyStrength: 128, SigAlg: "ECDSAwithSHA256",
		SPKISHA256: hexSum([]byte("spki")), Hosts: is.hosts, CAPathLen: -1, Wildcard: wildcard,
		FirstSeen: firstSeen.UTC(), LastSeen: lastSeen.UTC(), Precert: pre, Ownership: ownership,
		MatchesOrgHost: true, CTLogs: []events.CertCtLog{}, PEM: base64.StdEncoding.EncodeToString(der), Origin: "ct",
	}
}

// message wraps a payload as the dispatcher hands it over.
func message(t testing.TB, id int64, typ string, data any) dispatch.Message {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"id": id, "type": typ, "createdOn": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339Nano),
		"apiVersion": "0.14.0", "data": data,
	})
	require.NoError(t, err)
	return bodyMessage(t, body)
}

func bodyMessage(t testing.TB, body []byte) dispatch.Message {
	t.Helper()
	ev, err := events.ParseEnvelope(body)
	require.NoError(t, err)
	return dispatch.Message{
		Subject: queue.Subject(ev.Type), Data: body, Event: ev, Org: "demo", HookID: "hook1",
		Source: queue.SourceWebhook, ReceivedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), Attempt: 1,
	}
}

func logName(i int) string { return fmt.Sprintf("ct.example.net/log%d", i) }
