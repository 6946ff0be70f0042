package inventory

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/events"
)

// Rank of a certificate row: a row described by pki.cert.new is never replaced by one built from a
// ct.entry leaf.
const (
	detailCTLeaf  = 0
	detailCertNew = 1
)

// write is everything one event changes.
type write struct {
	event eventRow
	cert  *certRow  // nil when the event describes no certificate
	entry *entryRow // nil unless the event is a ct.entry
	// issuance is the tbsSha256 the policy judged the certificate under ("" when rules are off):
	// after the commit, the unpublished findings of these issuances are published.
	issuance string
	findings []findingRow
}

type eventRow struct {
	org, hookID, id, typ string
	createdOn            time.Time
	source               string
	receivedAt           time.Time
}

type certRow struct {
	sha256, tbs, subject, issuer, issuerCA, serial string
	detail                                         int
	notBefore, notAfter, effectiveNotAfter         time.Time
	hosts                                          []string
	keyAlg                                         string
	keyLen, keyStrength                            int
	sigAlg                                         string
	wildcard, selfSigned, precert                  bool
	ownership                                      string
	matchesOrgHost                                 bool
	origin                                         string
	firstSeen, lastSeen                            time.Time
	payload                                        []byte
}

type entryRow struct {
	log             string
	index           int64
	sha256, tbs     string
	precert         bool
	loggedAt        time.Time
	subject, issuer string
	hosts, matched  []string
}

// ms is the precision both databases keep (Hardenize's own precision too).
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// certFromCTEntry builds the poorer certificate row a ct.entry allows: what the leaf DER says,
// with tbsSha256, subject, issuer and hosts as the payload gives them. leaf is nil when the DER
// could not be parsed: the row then holds only what the entry states (a malformed certificate is
// stored, never dropped), with zero validity times.
func certFromCTEntry(e events.MatchedCtEntry, leaf *x509.Certificate) (*certRow, error) {
	seen := ms(time.UnixMilli(e.Timestamp))
	hosts := e.Hosts
	if len(hosts) == 0 && leaf != nil {
		hosts = leafHosts(leaf)
	}
	hosts = lowerHosts(hosts)
	r := &certRow{
		sha256: e.SHA256, tbs: e.TBSSHA256, detail: detailCTLeaf,
		subject: e.Subject, issuer: e.Issuer, hosts: hosts, wildcard: hasWildcard(hosts),
		precert: e.Precert, matchesOrgHost: len(e.MatchedHosts) > 0, origin: "ct",
		firstSeen: seen, lastSeen: seen,
	}
	pathLen := -1
	spki, pem := "", ""
	if len(e.Chain) > 0 {
		pem = e.Chain[0]
	}
	if leaf != nil {
		r.subject, r.issuer = orDefault(e.Subject, leaf.Subject.String()), orDefault(e.Issuer, leaf.Issuer.String())
		r.serial = serialHex(leaf)
		r.notBefore, r.notAfter, r.effectiveNotAfter = ms(leaf.NotBefore), ms(leaf.NotAfter), ms(leaf.NotAfter)
		r.keyAlg, r.keyLen, r.keyStrength = events.KeyInfo(leaf)
		r.sigAlg = events.SigAlgName(leaf.SignatureAlgorithm)
		r.selfSigned = bytes.Equal(leaf.RawSubject, leaf.RawIssuer)
		if len(leaf.Issuer.Organization) > 0 {
			r.issuerCA = leaf.Issuer.Organization[0]
		}
		if leaf.IsCA {
			pathLen = leaf.MaxPathLen
			if leaf.MaxPathLen < 0 || (leaf.MaxPathLen == 0 && !leaf.MaxPathLenZero) {
				pathLen = 2147483647
			}
		}
		spki, pem = hexSHA256(leaf.RawSubjectPublicKeyInfo), base64.StdEncoding.EncodeToString(leaf.Raw)
	}
	payload, err := json.Marshal(events.Certificate{
		SHA256: r.sha256, TBSSHA256: r.tbs, Subject: r.subject, Serial: r.serial, Issuer: r.issuer,
		IssuerCA: r.issuerCA, NotBefore: r.notBefore, NotAfter: r.notAfter, EffectiveNotAfter: r.notAfter,
		KeyAlg: r.keyAlg, KeyLen: r.keyLen, KeyStrength: r.keyStrength, SigAlg: r.sigAlg,
		SPKISHA256: spki, Hosts: r.hosts, SANCount: len(r.hosts),
		CAPathLen: pathLen, Wildcard: r.wildcard, SelfSigned: r.selfSigned,
		FirstSeen: seen, LastSeen: seen, Precert: r.precert, MatchesOrgHost: r.matchesOrgHost,
		CTLogs: []events.CertCtLog{}, PEM: pem, Origin: r.origin,
	})
	if err != nil {
		return nil, fmt.Errorf("encode certificate: %w", err)
	}
	r.payload = payload
	return r, nil
}

// certFromCertNew is the full row of a pki.cert.new; parsed may be nil (DER that crypto/x509
// refuses is still stored). data is the payload JSON as received.
func certFromCertNew(c events.Certificate, parsed *x509.Certificate, data []byte, createdOn time.Time) *certRow {
	tbs := c.TBSSHA256
	if tbs == "" && parsed != nil && !c.Precert {
		// Only a certificate's TBS hash can be recomputed: Hardenize hashes a precertificate's TBS
		// without its poison extension.
		tbs = hexSHA256(parsed.RawTBSCertificate)
	}
	first, last := c.FirstSeen, c.LastSeen
	if first.IsZero() {
		first = createdOn
	}
	if last.IsZero() {
		last = first
	}
	hosts := lowerHosts(c.Hosts)
	effective := c.EffectiveNotAfter
	if effective.IsZero() {
		effective = c.NotAfter
	}
	return &certRow{
		sha256: c.SHA256, tbs: tbs, detail: detailCertNew,
		subject: c.Subject, issuer: c.Issuer, issuerCA: c.IssuerCA, serial: c.Serial,
		notBefore: ms(c.NotBefore), notAfter: ms(c.NotAfter), effectiveNotAfter: ms(effective), hosts: hosts,
		keyAlg: c.KeyAlg, keyLen: c.KeyLen, keyStrength: c.KeyStrength, sigAlg: c.SigAlg,
		wildcard: c.Wildcard || hasWildcard(hosts), selfSigned: c.SelfSigned, precert: c.Precert,
		ownership: c.Ownership, matchesOrgHost: c.MatchesOrgHost, origin: c.Origin,
		firstSeen: ms(first), lastSeen: ms(last), payload: data,
	}
}

func entryFromCTEntry(e events.MatchedCtEntry) *entryRow {
	return &entryRow{
		log: e.Log, index: e.Index, sha256: e.SHA256, tbs: e.TBSSHA256, precert: e.Precert,
		loggedAt: ms(time.UnixMilli(e.Timestamp)), subject: e.Subject, issuer: e.Issuer,
		hosts: lowerHosts(e.Hosts), matched: lowerHosts(e.MatchedHosts),
	}
}

func leafHosts(leaf *x509.Certificate) []string {
	hosts := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

func lowerHosts(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), ".")); h != "" {
			out = append(out, h)
		}
	}
	return out
}

func hasWildcard(hosts []string) bool {
	for _, h := range hosts {
		if strings.HasPrefix(h, "*.") {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func serialHex(c *x509.Certificate) string {
	if c.SerialNumber == nil || c.SerialNumber.Sign() == 0 {
		return "00"
	}
	return hex.EncodeToString(c.SerialNumber.Bytes())
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
