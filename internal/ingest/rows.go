package ingest

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

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
)

// certFromCTEntry builds the poorer certificate row a ct.entry allows: what the leaf DER says,
// with tbsSha256, subject, issuer and hosts as the payload gives them. leaf is nil when the DER
// could not be parsed: the row then holds only what the entry states (a malformed certificate is
// stored, never dropped), with zero validity times.
func certFromCTEntry(e events.MatchedCtEntry, leaf *x509.Certificate) (*inventory.CertRow, error) {
	seen := inventory.Ms(time.UnixMilli(e.Timestamp))
	hosts := e.Hosts
	if len(hosts) == 0 && leaf != nil {
		hosts = leafHosts(leaf)
	}
	hosts = lowerHosts(hosts)
	r := &inventory.CertRow{
		SHA256: e.SHA256, TBSSHA256: e.TBSSHA256, Detail: inventory.DetailCTLeaf,
		Subject: e.Subject, Issuer: e.Issuer, Hosts: hosts, Wildcard: hasWildcard(hosts),
		Precert: e.Precert, MatchesOrgHost: len(e.MatchedHosts) > 0, Origin: "ct",
		FirstSeen: seen, LastSeen: seen,
	}
	pathLen := -1
	spki, pem := "", ""
	if len(e.Chain) > 0 {
		pem = e.Chain[0]
	}
	if leaf != nil {
		r.Subject, r.Issuer = orDefault(e.Subject, leaf.Subject.String()), orDefault(e.Issuer, leaf.Issuer.String())
		r.Serial = serialHex(leaf)
		r.NotBefore, r.NotAfter, r.EffectiveNotAfter = inventory.Ms(leaf.NotBefore), inventory.Ms(leaf.NotAfter), inventory.Ms(leaf.NotAfter)
		r.KeyAlg, r.KeyLen, r.KeyStrength = events.KeyInfo(leaf)
		r.SigAlg = events.SigAlgName(leaf.SignatureAlgorithm)
		r.SelfSigned = bytes.Equal(leaf.RawSubject, leaf.RawIssuer)
		if len(leaf.Issuer.Organization) > 0 {
			r.IssuerCA = leaf.Issuer.Organization[0]
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
		SHA256: r.SHA256, TBSSHA256: r.TBSSHA256, Subject: r.Subject, Serial: r.Serial, Issuer: r.Issuer,
		IssuerCA: r.IssuerCA, NotBefore: r.NotBefore, NotAfter: r.NotAfter, EffectiveNotAfter: r.NotAfter,
		KeyAlg: r.KeyAlg, KeyLen: r.KeyLen, KeyStrength: r.KeyStrength, SigAlg: r.SigAlg,
		SPKISHA256: spki, Hosts: r.Hosts, SANCount: len(r.Hosts),
		CAPathLen: pathLen, Wildcard: r.Wildcard, SelfSigned: r.SelfSigned,
		FirstSeen: seen, LastSeen: seen, Precert: r.Precert, MatchesOrgHost: r.MatchesOrgHost,
		CTLogs: []events.CertCtLog{}, PEM: pem, Origin: r.Origin,
	})
	if err != nil {
		return nil, fmt.Errorf("encode certificate: %w", err)
	}
	r.Payload = payload
	return r, nil
}

// certFromCertNew is the full row of a pki.cert.new; parsed may be nil (DER that crypto/x509
// refuses is still stored). data is the payload JSON as received.
func certFromCertNew(c events.Certificate, parsed *x509.Certificate, data []byte, createdOn time.Time) *inventory.CertRow {
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
	return &inventory.CertRow{
		SHA256: c.SHA256, TBSSHA256: tbs, Detail: inventory.DetailCertNew,
		Subject: c.Subject, Issuer: c.Issuer, IssuerCA: c.IssuerCA, Serial: c.Serial,
		NotBefore: inventory.Ms(c.NotBefore), NotAfter: inventory.Ms(c.NotAfter), EffectiveNotAfter: inventory.Ms(effective), Hosts: hosts,
		KeyAlg: c.KeyAlg, KeyLen: c.KeyLen, KeyStrength: c.KeyStrength, SigAlg: c.SigAlg,
		Wildcard: c.Wildcard || hasWildcard(hosts), SelfSigned: c.SelfSigned, Precert: c.Precert,
		Ownership: c.Ownership, MatchesOrgHost: c.MatchesOrgHost, Origin: c.Origin,
		FirstSeen: inventory.Ms(first), LastSeen: inventory.Ms(last), Payload: data,
	}
}

// observed stamps a certificate row with when its data was true and how its event came.
func observed(r *inventory.CertRow, m dispatch.Message) {
	r.ObservedAt, r.ReceivedVia = inventory.Ms(m.Event.CreatedOn), m.Source
}

func entryFromCTEntry(e events.MatchedCtEntry) *inventory.EntryRow {
	return &inventory.EntryRow{
		Log: e.Log, Index: e.Index, SHA256: e.SHA256, TBSSHA256: e.TBSSHA256, Precert: e.Precert,
		LoggedAt: inventory.Ms(time.UnixMilli(e.Timestamp)), Subject: e.Subject, Issuer: e.Issuer,
		Hosts: lowerHosts(e.Hosts), MatchedHosts: lowerHosts(e.MatchedHosts),
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
		if h = inventory.NormalizeHost(h); h != "" {
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
