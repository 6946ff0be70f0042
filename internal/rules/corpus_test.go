package rules_test

import (
	stdx509 "crypto/x509"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/lint/corpus"
	"github.com/hzhook/hzhook/internal/rules"
)

// A mirror is a rule that must agree with zlint: with the default thresholds, the rule fires on
// a certificate exactly when one of its lints errors, on every certificate in scope where at
// least one of them applies (not NA, not NE). Scope narrows the comparison to the part of the
// rule the lints judge (the key type, the signature hash).
type mirror struct {
	name  string
	rule  rules.Type
	lints []string
	scope func(z *x509.Certificate) bool
}

func mirrors() []mirror {
	any := func(*x509.Certificate) bool { return true }
	key := func(a x509.PublicKeyAlgorithm) func(*x509.Certificate) bool {
		return func(z *x509.Certificate) bool { return z.PublicKeyAlgorithm == a }
	}
	md := func(z *x509.Certificate) bool {
		return z.SignatureAlgorithm == x509.MD2WithRSA || z.SignatureAlgorithm == x509.MD5WithRSA
	}
	return []mirror{
		{"weakKey RSA", rules.TypeWeakKey, []string{"e_rsa_mod_less_than_2048_bits"}, key(x509.RSA)},
		{"weakKey DSA", rules.TypeWeakKey, []string{"e_dsa_shorter_than_2048_bits"}, key(x509.DSA)},
		{"weakKey EC", rules.TypeWeakKey, []string{"e_ec_improper_curves"}, key(x509.ECDSA)},
		// e_signature_algorithm_not_supported also rejects algorithms that are not legacy hashes
		// (unknown ones; RSA-PSS is a warning): legacySignature mirrors it for MD2 and MD5 only.
		{"legacySignature SHA-1", rules.TypeLegacySignature, []string{"e_sub_cert_or_sub_ca_using_sha1"},
			func(z *x509.Certificate) bool { return !md(z) }},
		{"legacySignature MD2/MD5", rules.TypeLegacySignature, []string{"e_signature_algorithm_not_supported"}, md},
		{"validityTooLong", rules.TypeValidityTooLong, []string{
			"e_sub_cert_valid_time_longer_than_39_months", "e_sub_cert_valid_time_longer_than_825_days",
			"e_tls_server_cert_valid_time_longer_than_398_days", "e_server_cert_valid_time_longer_than_200_days",
			"e_server_cert_valid_time_longer_than_100_days", "e_server_cert_valid_time_longer_than_47_days",
		}, any},
	}
}

// judged is one corpus certificate through both event types.
type judged struct {
	name      string
	z         *x509.Certificate // nil when zcrypto cannot parse it
	ct, cert  rules.Cert
	ctF, cerF []rules.Type
}

func judgeCorpus(t *testing.T) []judged {
	t.Helper()
	policy, err := rules.Parse(nil)
	require.NoError(t, err)
	var out []judged
	for i, c := range corpus.Certs(t) {
		j := judged{name: c.Name}
		z, zerr := x509.ParseCertificate(c.DER)
		if zerr == nil {
			j.z = z
		}
		_, stdErr := stdx509.ParseCertificate(c.DER)

		body, err := corpus.CTEntryBody(c, int64(i))
		require.NoError(t, err)
		ev, err := events.ParseEnvelope(body)
		require.NoError(t, err)
		entry, leaf, parseErr, err := events.DecodeCTEntry(ev)
		require.NoError(t, err, c.Name)
		j.ct = rules.FromCTEntry(entry, leaf, parseErr)

		body, err = corpus.CertNewBody(c, int64(i))
		require.NoError(t, err)
		ev, err = events.ParseEnvelope(body)
		require.NoError(t, err)
		payload, parsed, parseErr, err := events.DecodeCertificate(ev)
		require.NoError(t, err, c.Name)
		j.cert = rules.FromCertificate(payload, parsed, parseErr)

		nothingParses := stdErr != nil && zerr != nil
		assert.Equal(t, nothingParses, j.ct.Malformed, "%s: malformed only where nothing parses (ct.entry)", c.Name)
		assert.Equal(t, nothingParses, j.cert.Malformed, "%s: malformed only where nothing parses (pki.cert.new)", c.Name)
		j.ctF, j.cerF = types(policy.Evaluate(j.ct)), types(policy.Evaluate(j.cert))
		out = append(out, j)
	}
	return out
}

// TestCorpusRulesAgreeWithZlint runs the hand-written rules and zlint on every certificate of
// zlint's testdata and requires the same verdict wherever a mirroring lint applies.
func TestCorpusRulesAgreeWithZlint(t *testing.T) {
	all := judgeCorpus(t)
	var names []string
	for _, m := range mirrors() {
		names = append(names, m.lints...)
	}
	reg, err := zl.GlobalRegistry().Filter(zl.FilterOptions{IncludeNames: names})
	require.NoError(t, err)

	var malformed int
	for _, j := range all {
		if j.ct.Malformed {
			malformed++
		}
	}
	for _, m := range mirrors() {
		t.Run(m.name, func(t *testing.T) {
			var applies, bad, outside int
			for _, j := range all {
				if j.z == nil || !m.scope(j.z) {
					continue
				}
				res := zlint.LintCertificateEx(j.z, reg).Results
				applied, zlintBad := false, false
				for _, l := range m.lints {
					switch res[l].Status {
					case zl.NA, zl.NE:
					case zl.Error:
						applied, zlintBad = true, true
					default:
						applied = true
					}
				}
				ours := slices.Contains(j.ctF, m.rule)
				assert.Equal(t, ours, slices.Contains(j.cerF, m.rule), "%s: ct.entry and pki.cert.new agree", j.name)
				if !applied {
					if ours {
						outside++
					}
					continue
				}
				applies++
				if zlintBad {
					bad++
				}
				assert.Equal(t, zlintBad, ours, "%s: %s says %v, %s says %v", j.name, m.lints, zlintBad, m.rule, ours)
			}
			t.Logf("%s: zlint applies to %d, errors on %d, %s agrees on all; %s also fires on %d where no lint applies",
				m.name, applies, bad, m.rule, m.rule, outside)
			assert.Positive(t, bad, "the corpus exercises the lint")
		})
	}
	t.Logf("%d certificates, %d malformed (neither crypto/x509 nor zcrypto parses them)", len(all), malformed)
}

// TestCorpusDefects pins the defects of issue #17 on the real certificates that showed them.
func TestCorpusDefects(t *testing.T) {
	all := judgeCorpus(t)
	t.Run("DSA keys under 2048 bits are weak from the DER alone", func(t *testing.T) {
		var n int
		for _, j := range all {
			if j.ct.KeyAlg != "DSA" || j.ct.KeyLen >= 2048 {
				continue
			}
			n++
			assert.Contains(t, j.ctF, rules.TypeWeakKey, "%s: ct.entry", j.name)
			assert.Contains(t, j.cerF, rules.TypeWeakKey, "%s: pki.cert.new", j.name)
		}
		assert.Equal(t, 7, n, "DSA-1024 and DSA-512 certificates in the corpus")
	})
	t.Run("validity beyond 292 years", func(t *testing.T) {
		var far, flagged int
		for _, j := range all {
			if j.z == nil || j.z.NotAfter.Year() < 9998 {
				continue
			}
			far++
			if slices.Contains(j.ctF, rules.TypeValidityTooLong) {
				flagged++
				assert.False(t, j.ct.IsCA, j.name)
			}
		}
		t.Logf("%d certificates valid until 9998 or later, %d of them TLS subscriber certificates flagged", far, flagged)
		assert.Positive(t, flagged)
	})
	t.Run("CA certificates have no validity limit", func(t *testing.T) {
		for _, j := range all {
			if j.ct.IsCA {
				assert.NotContains(t, j.ctF, rules.TypeValidityTooLong, j.name)
			}
		}
	})
}

func types(fs []rules.Finding) []rules.Type {
	out := make([]rules.Type, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Type)
	}
	return out
}
