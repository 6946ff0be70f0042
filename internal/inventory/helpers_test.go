package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/testenv"
)

// backends runs fn against a fresh SQLite store and a fresh PostgreSQL schema.
func backends(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openStore(t, "sqlite://"+filepath.Join(t.TempDir(), "inv.db"))) })
	t.Run("postgres", func(t *testing.T) { fn(t, openStore(t, testenv.PostgresSchema(t))) })
}

func openStore(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func hexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// testCert is a certificate row named by seed, valid from notBefore to notAfter.
func testCert(seed string, notBefore, notAfter time.Time, hosts ...string) *CertRow {
	return &CertRow{
		SHA256: hexOf("cert " + seed), TBSSHA256: hexOf("tbs " + seed), Detail: DetailCertNew,
		Subject: "CN=" + seed, Issuer: "CN=Test CA", IssuerCA: "Test CA",
		NotBefore: Ms(notBefore), NotAfter: Ms(notAfter), EffectiveNotAfter: Ms(notAfter), Hosts: hosts,
		KeyAlg: "EC", KeyLen: 256, SigAlg: "ECDSAwithSHA256", Ownership: "own", FirstSeen: Ms(notBefore), LastSeen: Ms(notBefore),
		Payload: []byte(`{"sha256":"` + hexOf("cert "+seed) + `","spkiSha256":"` + hexOf("key "+seed) + `"}`),
	}
}

// write applies one write per row, each as its own event of type typ from source at received.
func write(t *testing.T, s *Store, ws ...Write) {
	t.Helper()
	for i := range ws {
		if ws[i].Event.ID == "" {
			ws[i].Event = EventRow{Org: "demo", HookID: "h", ID: hexOf(time.Now().String() + string(rune(i)))[:12],
				Type: "pki.cert.new", Source: "webhook", CreatedOn: Ms(time.Now()), ReceivedAt: Ms(time.Now())}
		}
	}
	require.NoError(t, s.Apply(context.Background(), ws))
}
