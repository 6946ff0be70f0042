package rules

import (
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }

func TestEvaluateRulesFireExactlyWhenTheyShould(t *testing.T) {
	ca := newCA(t, "Allowed CA")
	rsaCA := newCAWithKey(t, "Allowed RSA CA", rsaKey(t, 2048))
	rogue := newCA(t, "Allowed CA") // same DN text, different CA: judged by fingerprint
	policy := mustParse(t, fmt.Sprintf(`
watch:
  - name: .example.com
    issuers:
      - sha256: [%s, %s]
`, ca.sha, rsaCA.sha))
	boolp := func(b bool) *bool { return &b }

	tests := []struct {
		name string
		cert func(t *testing.T) Cert
		want []Type
	}{
		{"clean EC P-256", fromCT(ca, leafOpts{}), nil},
		{"RSA 2048", fromCT(ca, leafOpts{key: rsaKey(t, 2048)}), nil},
		{"RSA 1024", fromCT(ca, leafOpts{key: rsaKey(t, 1024)}), []Type{TypeWeakKey}},
		{"EC P-224", fromCT(ca, leafOpts{key: ecKey(t, elliptic.P224())}), []Type{TypeWeakKey}},
		{"SHA-256 with RSA", fromCT(rsaCA, leafOpts{}), nil},
		{"SHA-1 signature", fromCT(rsaCA, leafOpts{sigOID: oidSHA1WithRSA}), []Type{TypeLegacySignature}},
		{"MD5 signature", fromCT(rsaCA, leafOpts{sigOID: oidMD5WithRSA}), []Type{TypeLegacySignature}},
		{"wildcard", fromCT(ca, leafOpts{hosts: []string{"*.example.com"}}), []Type{TypeWildcard}},
		{"precertificate", fromCT(ca, leafOpts{precert: true}), nil},
		{"self-signed", fromCT(ca, leafOpts{selfSigned: true}), []Type{TypeSelfSigned}},
		{"issuer with the allowed name but another key", fromCT(rogue, leafOpts{}), []Type{TypeUnexpectedIssuer}},
		{"out of scope", fromCT(rogue, leafOpts{key: rsaKey(t, 1024), hosts: []string{"www.example.org"}}), nil},
		{"398 days before 2026-03-15", fromCT(ca, leafOpts{notBefore: day(2026, 3, 14), days: 398}), nil},
		{"399 days before 2026-03-15", fromCT(ca, leafOpts{notBefore: day(2026, 3, 14), days: 399}), []Type{TypeValidityTooLong}},
		{"200 days from 2026-03-15", fromCT(ca, leafOpts{notBefore: day(2026, 3, 15), days: 200}), nil},
		{"201 days from 2026-03-15", fromCT(ca, leafOpts{notBefore: day(2026, 3, 15), days: 201}), []Type{TypeValidityTooLong}},
		{"200 days just before 2027-03-15", fromCT(ca, leafOpts{notBefore: day(2027, 3, 14), days: 200}), nil},
		{"100 days from 2027-03-15", fromCT(ca, leafOpts{notBefore: day(2027, 3, 15), days: 100}), nil},
		{"101 days from 2027-03-15", fromCT(ca, leafOpts{notBefore: day(2027, 3, 15), days: 101}), []Type{TypeValidityTooLong}},
		{"100 days just before 2029-03-15", fromCT(ca, leafOpts{notBefore: day(2029, 3, 14), days: 100}), nil},
		{"47 days from 2029-03-15", fromCT(ca, leafOpts{notBefore: day(2029, 3, 15), days: 47}), nil},
		{"48 days from 2029-03-15", fromCT(ca, leafOpts{notBefore: day(2029, 3, 15), days: 48}), []Type{TypeValidityTooLong}},
		{"revoked", fromCert(ca, leafOpts{}, func(c *events.Certificate) { now := time.Now(); c.RevokedOn = &now }), []Type{TypeRevoked}},
		{"CT required and compliant", fromCert(ca, leafOpts{}, func(c *events.Certificate) { c.CTRequired, c.CTCompliant = boolp(true), boolp(true) }), nil},
		{"CT required, not compliant", fromCert(ca, leafOpts{}, func(c *events.Certificate) { c.CTRequired, c.CTCompliant = boolp(true), boolp(false) }), []Type{TypeCTNonCompliant}},
		{"CT not required, not compliant", fromCert(ca, leafOpts{}, func(c *events.Certificate) { c.CTRequired, c.CTCompliant = boolp(false), boolp(false) }), nil},
		{"precertificate is never judged for SCTs", fromCert(ca, leafOpts{precert: true}, func(c *events.Certificate) { c.CTRequired, c.CTCompliant = boolp(true), boolp(false) }), nil},
		{"third party, matches org host", fromCert(ca, leafOpts{}, func(c *events.Certificate) { c.Ownership, c.MatchesOrgHost = OwnershipThirdParty, true }), []Type{TypeThirdPartyForOwnHost}},
		{"third party, other host", fromCert(ca, leafOpts{}, func(c *events.Certificate) { c.Ownership = OwnershipThirdParty }), nil},
		{"own, matches org host", fromCert(ca, leafOpts{}, func(c *events.Certificate) { c.MatchesOrgHost = true }), nil},
		{"keyStrength under threshold", fromCert(ca, leafOpts{}, func(c *events.Certificate) { c.KeyStrength = 80 }), []Type{TypeWeakKey}},
		{"stated SHA-1 sigAlg", fromCert(ca, leafOpts{}, func(c *events.Certificate) { c.SigAlg = "ECDSAwithSHA1" }), []Type{TypeLegacySignature}},
		{"garbage DER", func(t *testing.T) Cert {
			garbage := []byte("not a certificate")
			c := certificate(t, issue(t, ca, leafOpts{}), "Allowed CA", ca)
			c.SHA256, c.PEM = hexSHA(garbage), base64.StdEncoding.EncodeToString(garbage)
			data, err := json.Marshal(c)
			require.NoError(t, err)
			decoded, parsed, parseErr, err := events.DecodeCertificate(events.Event{ID: "1", Type: events.TypeCertNew, Data: data})
			require.NoError(t, err, "an unparsable certificate is a valid event")
			require.Error(t, parseErr)
			got := FromCertificate(decoded, parsed, parseErr)
			assert.True(t, got.Malformed)
			assert.Contains(t, got.ParseError, "parse certificate")
			return got
		}, []Type{TypeMalformed}},
		{"garbage DER in a CT entry", func(t *testing.T) Cert {
			e := ctEntry(t, issue(t, ca, leafOpts{}), "log", ca)
			garbage := []byte("not a certificate")
			e.SHA256, e.Chain[0] = hexSHA(garbage), base64.StdEncoding.EncodeToString(garbage)
			got := FromCTEntry(e, nil, errors.New("x509: malformed certificate"))
			assert.Equal(t, "x509: malformed certificate", got.ParseError)
			return got
		}, []Type{TypeMalformed}},
		// crypto/x509 refuses a duplicate extension; zcrypto reads the certificate, so it is judged,
		// not called malformed, whether it comes as a CT entry or as pki.cert.new.
		{"only zcrypto parses it (CT entry)", func(t *testing.T) Cert {
			der := issue(t, ca, leafOpts{key: rsaKey(t, 1024), dupExt: true})
			_, perr := x509.ParseCertificate(der)
			require.Error(t, perr)
			got := FromCTEntry(ctEntry(t, der, "log", ca), nil, perr)
			assert.Equal(t, "RSA", got.KeyAlg)
			assert.Equal(t, []string{"www.example.com"}, got.Hosts)
			assert.True(t, got.ValidityKnown)
			return got
		}, []Type{TypeWeakKey}},
		{"only zcrypto parses it (pki.cert.new)", func(t *testing.T) Cert {
			der := issue(t, ca, leafOpts{key: rsaKey(t, 1024), dupExt: true, days: 500, notBefore: day(2025, 1, 1)})
			data, err := json.Marshal(certificate(t, der, "Allowed CA", ca))
			require.NoError(t, err)
			decoded, parsed, parseErr, err := events.DecodeCertificate(events.Event{ID: "1", Type: events.TypeCertNew, Data: data})
			require.NoError(t, err)
			require.Error(t, parseErr)
			return FromCertificate(decoded, parsed, parseErr)
		}, []Type{TypeWeakKey, TypeValidityTooLong}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := policy.Evaluate(tc.cert(t))
			want := tc.want
			if want == nil {
				want = []Type{}
			}
			assert.Equal(t, want, types(got))
		})
	}
}

func fromCT(ca testCA, o leafOpts) func(t *testing.T) Cert {
	return func(t *testing.T) Cert {
		der := issue(t, ca, o)
		return FromCTEntry(ctEntry(t, der, "ct.example.net/log", ca), parse(t, der), nil)
	}
}

func fromCert(ca testCA, o leafOpts, edit func(*events.Certificate)) func(t *testing.T) Cert {
	return func(t *testing.T) Cert {
		der := issue(t, ca, o)
		c := certificate(t, der, "Allowed CA", ca)
		edit(&c)
		return FromCertificate(c, parse(t, der), nil)
	}
}

func TestRulesCanBeSwitchedOff(t *testing.T) {
	ca := newCA(t, "CA")
	der := issue(t, ca, leafOpts{key: rsaKey(t, 1024), hosts: []string{"*.example.com"}})
	c := FromCTEntry(ctEntry(t, der, "log", ca), parse(t, der), nil)

	assert.Equal(t, []Type{TypeWeakKey, TypeWildcard}, types(mustParse(t, "").Evaluate(c)))
	assert.Equal(t, []Type{TypeWildcard}, types(mustParse(t, "rules: {weakKey: false}").Evaluate(c)))
	assert.Equal(t, []Type{TypeWeakKey}, types(mustParse(t, "rules: {wildcard: {enabled: false}}").Evaluate(c)))
	assert.Empty(t, mustParse(t, "rules: {weakKey: {minRSABits: 1024, minStrength: 80}, wildcard: false}").Evaluate(c))
}

func TestUnexpectedIssuer(t *testing.T) {
	le := newCA(t, "R3")
	rogue := newCA(t, "R3")
	root := newCA(t, "Root")
	policy := mustParse(t, fmt.Sprintf(`
watch:
  - name: shop.example.com
    issuers:
      - ca: "Let's Encrypt"
      - sha256: %s
  - name: .example.com
  - name: pinned.example.net
    issuers: [{ca: DigiCert}]
`, root.sha))

	tests := []struct {
		name     string
		hosts    []string
		issuerCA string
		parents  []testCA
		want     []Type
	}{
		{"allowed by CCADB name", []string{"shop.example.com"}, "Let's Encrypt", []testCA{le}, nil},
		{"name compared case-insensitively", []string{"shop.example.com"}, "let's encrypt", []testCA{rogue}, nil},
		{"other CCADB name", []string{"shop.example.com"}, "Evil CA", []testCA{rogue}, []Type{TypeUnexpectedIssuer}},
		{"allowed by a root in the chain", []string{"shop.example.com"}, "", []testCA{rogue, root}, nil},
		{"CT entry without issuerCa or allowed hash", []string{"shop.example.com"}, "", []testCA{rogue}, []Type{TypeUnexpectedIssuer}},
		{"item without allowlist", []string{"www.example.com"}, "Evil CA", []testCA{rogue}, nil},
		{"name-only allowlist, no issuerCa: undecided here", []string{"pinned.example.net"}, "", []testCA{rogue}, nil},
		{"wildcard matches the item fail-safe", []string{"*.example.com"}, "Evil CA", []testCA{rogue}, []Type{TypeUnexpectedIssuer, TypeWildcard}},
		{"redacted label matches fail-safe", []string{"?.example.com"}, "Evil CA", []testCA{rogue}, []Type{TypeUnexpectedIssuer}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Cert{SHA256: "aa", TBSSHA256: "bb", Hosts: tc.hosts, IssuerCA: tc.issuerCA}
			for _, p := range tc.parents {
				c.ParentHashes = append(c.ParentHashes, p.sha)
			}
			got := policy.Evaluate(c)
			want := tc.want
			if want == nil {
				want = []Type{}
			}
			require.Equal(t, want, types(got))
			if len(got) > 0 && got[0].Type == TypeUnexpectedIssuer {
				assert.Equal(t, "shop.example.com", got[0].WatchItem)
			}
		})
	}
}

func TestOneIssuanceGivesOneFindingPerType(t *testing.T) {
	ca := newCAWithKey(t, "Some CA", rsaKey(t, 2048))
	key := rsaKey(t, 1024)
	o := leafOpts{key: key, hosts: []string{"*.example.com", "example.com"}, notBefore: day(2025, 1, 1), days: 500,
		sigOID: oidSHA1WithRSA, serial: 77}
	pre, final := o, o
	pre.precert, final.sctList = true, true
	preDER, finalDER := issue(t, ca, pre), issue(t, ca, final)

	preTBS, err := IssuanceTBSSHA256(parse(t, preDER))
	require.NoError(t, err)
	finalTBS, err := IssuanceTBSSHA256(parse(t, finalDER))
	require.NoError(t, err)
	require.Equal(t, preTBS, finalTBS, "precertificate and certificate are one issuance")
	require.NotEqual(t, hexSHA(preDER), hexSHA(finalDER))

	policy := mustParse(t, "watch: [{name: .example.com, issuers: [{ca: \"Let's Encrypt\"}]}]")
	certs := []Cert{
		FromCertificate(certificate(t, preDER, "Some CA", ca), parse(t, preDER), nil),
		FromCertificate(certificate(t, finalDER, "Some CA", ca), parse(t, finalDER), nil),
		FromCTEntry(ctEntry(t, preDER, "ct.googleapis.com/argon", ca), parse(t, preDER), nil),
		FromCTEntry(ctEntry(t, preDER, "ct.cloudflare.com/nimbus", ca), parse(t, preDER), nil),
		FromCTEntry(ctEntry(t, finalDER, "ct.googleapis.com/argon", ca), parse(t, finalDER), nil),
	}
	type key2 struct{ tbs, typ string }
	stored := map[key2]Finding{}
	for _, c := range certs {
		for _, f := range policy.Evaluate(c) {
			k := key2{f.TBSSHA256, f.DedupType()}
			if _, dup := stored[k]; !dup {
				stored[k] = f
			}
		}
	}
	var got []Type
	for _, typ := range Types() {
		if _, ok := stored[key2{preTBS, string(typ)}]; ok {
			got = append(got, typ)
		}
	}
	assert.Len(t, stored, len(got), "every finding is keyed by the issuance's tbsSha256")
	assert.Equal(t, []Type{TypeUnexpectedIssuer, TypeWeakKey, TypeLegacySignature, TypeWildcard, TypeValidityTooLong}, got)

	t.Run("authorized tbsSha256 gives none", func(t *testing.T) {
		authorized := mustParse(t, fmt.Sprintf(`
watch: [{name: .example.com, issuers: [{ca: "Let's Encrypt"}]}]
authorizations:
  - tbsSha256: %s
    note: known
`, preTBS))
		for _, c := range certs {
			assert.Empty(t, authorized.Evaluate(c))
		}
	})
}

func TestSPKIAuthorizationIsScopedToNames(t *testing.T) {
	ca := newCA(t, "CA")
	key := rsaKey(t, 1024)
	spki := func(hosts ...string) Cert {
		der := issue(t, ca, leafOpts{key: key, hosts: hosts})
		return FromCTEntry(ctEntry(t, der, "log", ca), parse(t, der), nil)
	}
	keySHA := spki("a.example.com").SPKISHA256
	otherDER := issue(t, ca, leafOpts{key: rsaKey(t, 1024), hosts: []string{"www.example.com"}})
	otherKey := FromCTEntry(ctEntry(t, otherDER, "log", ca), parse(t, otherDER), nil)
	exact := mustParse(t, fmt.Sprintf("authorizations: [{spkiSha256: %s, names: [www.example.com, api.example.com]}]", keySHA))
	domain := mustParse(t, fmt.Sprintf("authorizations: [{spkiSha256: %s, names: [.example.com], note: lb key}]", keySHA))
	literal := mustParse(t, fmt.Sprintf("authorizations: [{spkiSha256: %s, names: ['*.example.com']}]", keySHA))

	tests := []struct {
		name   string
		policy *Policy
		cert   Cert
		want   bool // suppressed
	}{
		{"all names listed", exact, spki("www.example.com", "api.example.com"), true},
		{"one name listed", exact, spki("www.example.com"), true},
		{"an extra name", exact, spki("www.example.com", "evil.example.com"), false},
		{"wildcard not covered by exact names", exact, spki("*.example.com"), false},
		{"subdomains item covers names and wildcards", domain, spki("a.b.example.com", "*.example.com", "example.com"), true},
		{"subdomains item stops at its domain", domain, spki("www.example.org"), false},
		{"literal wildcard name", literal, spki("*.example.com"), true},
		{"literal wildcard is not its names", literal, spki("www.example.com"), false},
		{"another key", exact, otherKey, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.policy.Evaluate(tc.cert)
			if tc.want {
				assert.Empty(t, got)
			} else {
				assert.NotEmpty(t, got)
			}
		})
	}
}
