package linting

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/lint/corpus"
	"github.com/hzhook/hzhook/internal/testenv"
)

// opener opens a fresh, empty store named by key.
type opener func(t *testing.T, key string) *inventory.Store

func openStore(t *testing.T, dbURL string) *inventory.Store {
	t.Helper()
	s, err := inventory.Open(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func sqliteOpener(t *testing.T) opener {
	dir := t.TempDir()
	return func(t *testing.T, key string) *inventory.Store {
		return openStore(t, "sqlite://"+filepath.Join(dir, key+".db"))
	}
}

func postgresOpener(t *testing.T) opener {
	testenv.PostgresBase(t)
	return func(t *testing.T, _ string) *inventory.Store { return openStore(t, testenv.PostgresSchema(t)) }
}

// msg is the message of webhook body as the dispatcher hands it to the lint stage: the envelope
// not parsed (the stage's consumer leaves that to the stage), delivered for the first time.
func msg(seq int, body []byte) dispatch.Message {
	return dispatch.Message{Data: body, Seq: uint64(seq), Attempt: 1, Org: "demo", HookID: "hook"}
}

// certNew and ctEntry are the messages of corpus certificate c as Hardenize would send them.
func certNew(t testing.TB, c corpus.Cert, id int) dispatch.Message {
	t.Helper()
	b, err := corpus.CertNewBody(c, int64(id))
	require.NoError(t, err)
	return msg(id, b)
}

func ctEntry(t testing.TB, c corpus.Cert, id int) dispatch.Message {
	t.Helper()
	b, err := corpus.CTEntryBody(c, int64(id))
	require.NoError(t, err)
	return msg(id, b)
}

// byName returns the corpus certificate of that file.
func byName(t testing.TB, certs []corpus.Cert, name string) corpus.Cert {
	t.Helper()
	for _, c := range certs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no corpus certificate %s", name)
	return corpus.Cert{}
}

// pair is a precertificate and its certificate (one issuance) from a fresh CA: what zlint finds
// on them (no AIA, no policies) is real, the certificates are not.
type pair struct {
	pre, cert corpus.Cert
	tbs       string
}

var oidPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}

func newPair(t testing.TB, host string) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now().Truncate(time.Second)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Pair CA", Organization: []string{"hzhook"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5eed), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, 90), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &leafKey.PublicKey, key)
	require.NoError(t, err)
	tmpl.ExtraExtensions = []pkix.Extension{{Id: oidPoison, Critical: true, Value: asn1.NullBytes}}
	preDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &leafKey.PublicKey, key)
	require.NoError(t, err)
	tbs, err := corpus.TBSSHA256(certDER)
	require.NoError(t, err)
	preTBS, err := corpus.TBSSHA256(preDER)
	require.NoError(t, err)
	require.Equal(t, tbs, preTBS)
	return pair{pre: cert(preDER, "pair precertificate"), cert: cert(certDER, "pair certificate"), tbs: tbs}
}

func cert(der []byte, name string) corpus.Cert {
	sum := sha256.Sum256(der)
	return corpus.Cert{Name: name, DER: der, SHA256: hex.EncodeToString(sum[:])}
}

// counter returns the value of counter name with label value v (the first label).
func counter(t *testing.T, reg prometheus.Gatherer, name, v string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() == v {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// handleOK hands batch to the stage's handler of its events and requires every message done.
func handleOK(t *testing.T, s *Stage, batch ...dispatch.Message) {
	t.Helper()
	for i, err := range s.Handle(context.Background(), batch) {
		require.NoError(t, err, "message %d", i)
	}
}
