package hardenizetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/events"
)

// CertSpec describes a certificate for NewCert. Zero fields get defaults.
type CertSpec struct {
	Hosts     []string  // SAN DNS names; www.example.com and example.com when empty
	NotBefore time.Time // an hour ago when zero
	NotAfter  time.Time // 90 days after NotBefore when zero
	Active    bool      // the Certificate's active flag ("seen installed recently")
}

// NewCert generates a real ECDSA certificate for spec, issued by a fresh root, and returns it as
// the API's Certificate object: sha256, tbsSha256, spkiSha256 and pem match the DER, so
// events.DecodeCertificate accepts it. firstSeen and lastSeen are NotBefore.
func NewCert(spec CertSpec) (events.Certificate, error) {
	hosts := spec.Hosts
	if len(hosts) == 0 {
		hosts = []string{"www.example.com", "example.com"}
	}
	notBefore := spec.NotBefore
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	notBefore = notBefore.UTC().Truncate(time.Second)
	notAfter := spec.NotAfter
	if notAfter.IsZero() {
		notAfter = notBefore.AddDate(0, 0, 90)
	}
	notAfter = notAfter.UTC().Truncate(time.Second)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return events.Certificate{}, fmt.Errorf("new cert: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return events.Certificate{}, fmt.Errorf("new cert: %w", err)
	}
	ca := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "hardenizetest Root CA", Organization: []string{"hardenizetest"}},
		NotBefore: notBefore.AddDate(-1, 0, 0), NotAfter: notAfter.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return events.Certificate{}, fmt.Errorf("new cert: root: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return events.Certificate{}, fmt.Errorf("new cert: root: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return events.Certificate{}, fmt.Errorf("new cert: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return events.Certificate{}, fmt.Errorf("new cert: %w", err)
	}
	wildcard := slices.ContainsFunc(hosts, func(h string) bool { return strings.HasPrefix(h, "*.") })
	return events.Certificate{
		SHA256: hexSum(der), TBSSHA256: hexSum(leaf.RawTBSCertificate),
		Subject: "CN=" + hosts[0], Serial: hex.EncodeToString(leaf.SerialNumber.Bytes()),
		Issuer: "CN=hardenizetest Root CA, O=hardenizetest", Validation: "dv",
		NotBefore: notBefore, NotAfter: notAfter, EffectiveNotAfter: notAfter,
		KeyAlg: "EC", KeyLen: 256, KeyStrength: 128, SigAlg: "ECDSAwithSHA256",
		SPKISHA256: hexSum(leaf.RawSubjectPublicKeyInfo), Hosts: hosts, SANCount: len(hosts),
		CAPathLen: -1, Wildcard: wildcard, FirstSeen: notBefore, LastSeen: notBefore,
		SeenInstalled: spec.Active, Active: spec.Active, Ownership: "own", MatchesOrgHost: true,
		CTLogs: []events.CertCtLog{}, PEM: base64.StdEncoding.EncodeToString(der), Origin: "ct",
		ParentHashes: []string{hexSum(caDER)}, ParentHashesSource: "ct",
	}, nil
}

// storedCert is a certificate of the account and when it was added to it (what newSince
// compares; the Certificate object itself does not carry that time).
type storedCert struct {
	cert    events.Certificate
	addedOn time.Time
}

// AddCert adds c to the account as if Hardenize had found it at addedOn, the time the newSince
// filter compares. Adding a sha256 the account has is an error.
func (s *Server) AddCert(c events.Certificate, addedOn time.Time) error {
	sha := strings.ToLower(c.SHA256)
	if sha == "" {
		return errors.New("add cert: no sha256")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findCertLocked(sha) != nil {
		return fmt.Errorf("add cert: %s already in the account", sha)
	}
	c.SHA256 = sha
	s.certs = append(s.certs, &storedCert{cert: c, addedOn: addedOn.UTC()})
	return nil
}

// UpdateCert changes the stored certificate sha256 with update, as Hardenize does when it learns
// more (revokedOn, lastSeen, active). It does not change when the certificate was added, so it
// does not make the certificate "new since" anything. The sha256 cannot be changed.
func (s *Server) UpdateCert(sha256 string, update func(*events.Certificate)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.findCertLocked(strings.ToLower(sha256))
	if sc == nil {
		return fmt.Errorf("update cert: %s not in the account", sha256)
	}
	c := sc.cert
	update(&c)
	if c.SHA256 != sc.cert.SHA256 {
		return errors.New("update cert: sha256 cannot change")
	}
	sc.cert = c
	return nil
}

// Certs returns the account's certificates in the order added.
func (s *Server) Certs() []events.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]events.Certificate, len(s.certs))
	for i, sc := range s.certs {
		out[i] = sc.cert
	}
	return out
}

func (s *Server) findCertLocked(sha string) *storedCert {
	for _, sc := range s.certs {
		if sc.cert.SHA256 == sha {
			return sc
		}
	}
	return nil
}

// certFilter is the filters of GET /certs.
type certFilter struct {
	active, expired *bool
	expireInDays    *int
	host, spki      string
	limit           int
	newSince        time.Time
}

// parseCertFilter reads the GET /certs parameters, writing a 400 ErrorResponse when one is bad.
func parseCertFilter(w http.ResponseWriter, q url.Values) (certFilter, bool) {
	var f certFilter
	for _, p := range []struct {
		name string
		dst  **bool
	}{{"active", &f.active}, {"expired", &f.expired}} {
		if v := q.Get(p.name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeError(w, http.StatusBadRequest, p.name, "must be true or false")
				return f, false
			}
			*p.dst = &b
		}
	}
	if v := q.Get("expireInDays"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "expireInDays", "must be a non-negative integer")
			return f, false
		}
		f.expireInDays = &n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit", "must be a positive integer")
			return f, false
		}
		f.limit = n
	}
	if v := q.Get("newSince"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "newSince", "must be an ISO 8601 date-time")
			return f, false
		}
		f.newSince = t
	}
	f.host = strings.ToLower(strings.TrimSuffix(q.Get("host"), "."))
	f.spki = strings.ToLower(q.Get("spkiSha256"))
	return f, true
}

// match applies the filters as the seed describes them. "Expired" is judged, like expireInDays,
// by effectiveNotAfter; newSince by the time the certificate was added, inclusive.
func (f certFilter) match(sc *storedCert, now time.Time) bool {
	c := sc.cert
	end := c.EffectiveNotAfter
	if end.IsZero() {
		end = c.NotAfter
	}
	switch {
	case f.active != nil && c.Active != *f.active:
		return false
	case f.expired != nil && end.Before(now) != *f.expired:
		return false
	case f.expireInDays != nil && end.After(now.AddDate(0, 0, *f.expireInDays)):
		return false
	case f.host != "" && !validFor(c.Hosts, f.host):
		return false
	case f.spki != "" && c.SPKISHA256 != f.spki:
		return false
	case !f.newSince.IsZero() && sc.addedOn.Before(f.newSince):
		return false
	}
	return true
}

// validFor reports whether hosts cover host exactly or by a wildcard for host's parent.
func validFor(hosts []string, host string) bool {
	_, parent, _ := strings.Cut(host, ".")
	for _, h := range hosts {
		h = strings.ToLower(h)
		if h == host || parent != "" && h == "*."+parent {
			return true
		}
	}
	return false
}

// listCerts answers GET /certs: the matching certificates in the order added, at most limit.
func (s *Server) listCerts(w http.ResponseWriter, r *http.Request) {
	f, ok := parseCertFilter(w, r.URL.Query())
	if !ok {
		return
	}
	now := s.now()
	s.mu.Lock()
	out := []events.Certificate{}
	for _, sc := range s.certs {
		if f.limit > 0 && len(out) == f.limit {
			break
		}
		if f.match(sc, now) {
			out = append(out, sc.cert)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"certs": out})
}

// getCert answers GET /certs/{sha256}.
func (s *Server) getCert(w http.ResponseWriter, sha string) {
	s.mu.Lock()
	sc := s.findCertLocked(strings.ToLower(sha))
	var c events.Certificate
	if sc != nil {
		c = sc.cert
	}
	s.mu.Unlock()
	if sc == nil {
		writeError(w, http.StatusNotFound, "", "certificate not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cert": c})
}

// certJSON encodes the account's certificates for an operation's snapshot.
func certJSON(certs []*storedCert, limit int) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(certs))
	for _, sc := range certs {
		if limit > 0 && len(out) == limit {
			break
		}
		b, err := json.Marshal(sc.cert)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func serial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] = b[0]&0x7f | 0x01
	return new(big.Int).SetBytes(b)
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
