package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/lint"
)

func TestExampleRulesFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "rules.yaml"))
	require.NoError(t, err)
	p, err := Parse(data)
	require.NoError(t, err)

	require.Len(t, p.Watch, 3)
	assert.Equal(t, ".example.com", p.Watch[0].String())
	assert.Len(t, p.Watch[0].Issuers, 2)
	assert.Equal(t, p.Watch[0].Issuers, p.Watch[1].Issuers, "yaml anchors share one allowlist")
	assert.Equal(t, "xn--bcher-kva.example", p.Watch[2].Name)
	assert.True(t, p.Watch[2].Subdomains)
	assert.False(t, p.Rules.On(TypeWildcard))
	assert.True(t, p.Rules.On(TypeWeakKey))
	assert.Equal(t, []int{30, 14, 7}, p.Rules.ExpiringDays)
	require.Len(t, p.Authorizations, 2)
	assert.Equal(t, "renewals on the load balancer key", p.Authorizations[1].Note)
	assert.Equal(t, lint.DefaultSources(), p.Lints.Sources)
	assert.Equal(t, []string{"e_rsa_fermat_factorization"}, p.Lints.Include)
	assert.Equal(t, []string{"e_prohibit_dsa_usage"}, p.Lints.Alert.Include)
	_, err = lint.New(p.Lints)
	require.NoError(t, err)
}

func TestParseDefaults(t *testing.T) {
	for _, empty := range []string{"", "# only a comment\n", "---\n"} {
		p, err := Parse([]byte(empty))
		require.NoError(t, err)
		assert.Empty(t, p.Watch)
		for _, typ := range Types() {
			assert.True(t, p.Rules.On(typ), typ)
		}
		assert.Equal(t, 2048, p.Rules.MinRSABits)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	const sha = "8d25cd97229dbf70356bda4eb3cc734031e24cf00fafcfd32dc76eb5841c7ea8"
	tests := []struct {
		name string
		yml  string
		want string
	}{
		{"unknown top-level key", "watch: []\nalerts: {}\n", "line 2: alerts: unknown key (known: authorizations, lints, rules, watch)"},
		{"yaml syntax", "watch:\n  - name: [\n", "yaml: line 2"},
		{"watch is not a list", "watch: example.com\n", "line 1: watch: expected a list"},
		{"bad name", "watch:\n  - name: example.com\n  - name: 'exa mple.com'\n", "line 3: watch[1].name:"},
		{"wildcard watch name", "watch:\n  - '*.example.com'\n", "line 2: watch[0].name: \"*.example.com\": wildcards are not names here"},
		{"duplicate watch item", "watch:\n  - .example.com\n  - name: .EXAMPLE.com\n", "line 3: watch[1].name: .example.com is already watched at line 2"},
		{"missing name", "watch:\n  - issuers: []\n", "line 2: watch[0]: name is missing"},
		{"empty issuer", "watch:\n  - name: example.com\n    issuers:\n      - {}\n", "line 4: watch[0].issuers[0]: set ca"},
		{"bad issuer hash", "watch:\n  - name: example.com\n    issuers:\n      - sha256: [" + sha + ", abc]\n", "line 4: watch[0].issuers[0].sha256[1]: expected a SHA-256"},
		{"unknown rule", "rules:\n  weakKeys: true\n", "line 2: rules.weakKeys: unknown key"},
		{"rule not a bool", "rules:\n  wildcard: maybe\n", "line 2: rules.wildcard: expected true or false"},
		{"bad threshold", "rules:\n  weakKey:\n    minRSABits: -1\n", "line 3: rules.weakKey.minRSABits: expected a whole number"},
		{"threshold on another rule", "rules:\n  wildcard: {minRSABits: 1}\n", "line 2: rules.wildcard.minRSABits: unknown key"},
		{"no expiry days", "rules:\n  expiringSoon:\n    days: []\n", "line 3: rules.expiringSoon.days: list at least one"},
		{"zero expiry day", "rules:\n  expiringSoon: {days: [30, 0]}\n", "line 2: rules.expiringSoon.days[1]: must be greater than 0"},
		{"authorization without hash", "authorizations:\n  - note: x\n", "line 2: authorizations[0]: set exactly one of"},
		{"authorization with both", "authorizations:\n  - tbsSha256: " + sha + "\n    spkiSha256: " + sha + "\n", "line 2: authorizations[0]: set exactly one of"},
		{"spki without names", "authorizations:\n\n  - spkiSha256: " + sha + "\n", "line 3: authorizations[0]: spkiSha256 needs names"},
		{"tbs with names", "authorizations:\n  - tbsSha256: " + sha + "\n    names: [a.example.com]\n", "line 2: authorizations[0]: names apply only"},
		{"bad tbs", "authorizations:\n  - tbsSha256: 1234\n", "line 2: authorizations[0].tbsSha256: expected a SHA-256"},
		{"repeated key", "rules: {}\nrules: {}\n", "line 2"},
		{"lints not a bool", "lints: sometimes\n", "line 1: lints: expected true or false"},
		{"unknown lints key", "lints:\n  source: [CABF_BR]\n", "line 2: lints.source: unknown key (known: alert, enabled, exclude, include, sources)"},
		{"unknown lint source", "lints:\n  sources:\n    - CABF_BR\n    - BR\n", `line 4: lints.sources[1]: unknown lint source "BR" (known: Apple, CABF_BR, `},
		{"unknown lint", "lints:\n  include: [e_rsa_mod_less_than_2048]\n", `line 2: lints.include[0]: unknown lint "e_rsa_mod_less_than_2048": zlint has no certificate lint of that name`},
		{"unknown excluded lint", "lints: {exclude: nope}\n", `line 1: lints.exclude: unknown lint "nope"`},
		{"lint both in and out", "lints:\n  include: [e_rsa_fermat_factorization]\n  exclude: [e_rsa_fermat_factorization]\n",
			"line 2: lints: include: e_rsa_fermat_factorization is also excluded: keep it in one list"},
		{"no lint selected", "lints:\n  sources: []\n", "line 2: lints: no lint selected: list at least one source"},
		{"alert status", "lints:\n  alert:\n    statuses: [error, pass]\n", `line 3: lints.alert.statuses[1]: "pass" cannot alert: use fatal, error, warn or notice`},
		{"unknown alert status", "lints:\n  alert:\n    statuses: [Error]\n", `line 3: lints.alert.statuses[0]: unknown lint status "Error" (known: fatal, error, warn`},
		{"no alert status", "lints:\n  alert:\n    statuses: []\n", "line 3: lints.alert.statuses: list at least one status, e.g. [error, fatal], or switch the lintError rule off"},
		{"alert on a lint that does not run", "lints:\n  alert: {include: [e_rsa_fermat_factorization]}\n",
			"line 2: lints: alert.include: e_rsa_fermat_factorization does not run: add it to include"},
		{"alert precerts not a bool", "lints:\n  alert: {precerts: 1x}\n", "line 2: lints.alert.precerts: expected true or false"},
		{"two documents", "watch: []\n---\nwatch: []\n", "more than one yaml document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseLints(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		assert.Equal(t, lint.DefaultConfig(), mustParse(t, "").Lints)
		assert.True(t, mustParse(t, "").Rules.On(TypeLintError))
	})
	t.Run("off", func(t *testing.T) {
		assert.False(t, mustParse(t, "lints: false").Lints.Enabled)
		assert.False(t, mustParse(t, "lints: {enabled: false}").Lints.Enabled)
		assert.False(t, mustParse(t, "rules: {lintError: false}").Rules.On(TypeLintError), "linted, never alerted")
	})
	t.Run("every key", func(t *testing.T) {
		p := mustParse(t, `
lints:
  sources: [cabf_br, RFC5280, mozilla]
  include: [e_rsa_fermat_factorization]
  exclude: [w_subject_common_name_included]
  alert:
    statuses: [error, fatal, warn]
    sources: CABF_BR
    include: [e_rsa_fermat_factorization]
    exclude: [e_sub_cert_aia_missing]
    precerts: true
`)
		assert.Equal(t, lint.Config{
			Enabled: true,
			Sources: []string{"CABF_BR", "RFC5280", "Mozilla"},
			Include: []string{"e_rsa_fermat_factorization"},
			Exclude: []string{"w_subject_common_name_included"},
			Alert: lint.AlertPolicy{
				Statuses: []lint.Status{lint.StatusError, lint.StatusFatal, lint.StatusWarn},
				Sources:  []string{"CABF_BR"},
				Include:  []string{"e_rsa_fermat_factorization"},
				Exclude:  []string{"e_sub_cert_aia_missing"},
				Precerts: true,
			},
		}, p.Lints)
		_, err := lint.New(p.Lints)
		require.NoError(t, err)
	})
	t.Run("a key keeps the other defaults", func(t *testing.T) {
		p := mustParse(t, "lints: {alert: {precerts: true}}")
		want := lint.DefaultConfig()
		want.Alert.Precerts = true
		assert.Equal(t, want, p.Lints)
	})
}
