package lint

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultConfigSelectsTLSServerLints(t *testing.T) {
	l := newLinter(t, DefaultConfig())
	names := l.Names()
	assert.Greater(t, len(names), 250, "the default sources hold most of zlint's lints")
	for _, n := range []string{
		"e_rsa_mod_less_than_2048_bits",                     // CABF_BR
		"e_ev_valid_time_too_long",                          // CABF_EV
		"e_ext_san_missing",                                 // RFC5280
		"e_tls_server_cert_valid_time_longer_than_398_days", // Apple
		"e_prohibit_dsa_usage",                              // Mozilla
	} {
		assert.Contains(t, names, n)
	}
	for _, n := range []string{"e_rsa_fermat_factorization", "e_cs_rsa_key_size"} { // Community, CABF_CS_BR
		assert.NotContains(t, names, n)
	}
	assert.NotEmpty(t, l.Version())
}

func TestConfigSelection(t *testing.T) {
	base := Config{Enabled: true, Sources: []string{"rfc5280"}}
	rfc := newLinter(t, base).Names()
	require.NotEmpty(t, rfc)

	with := base
	with.Include = []string{"e_rsa_mod_less_than_2048_bits"}
	assert.ElementsMatch(t, append(rfc, "e_rsa_mod_less_than_2048_bits"), newLinter(t, with).Names(),
		"include adds a lint from another source")

	without := base
	without.Exclude = []string{rfc[0]}
	assert.ElementsMatch(t, rfc[1:], newLinter(t, without).Names(), "exclude removes a lint of a chosen source")

	l := newLinter(t, base)
	assert.Equal(t, []string{"RFC5280"}, l.Config().Sources, "sources are stored as zlint spells them")
	assert.Equal(t, []string{"rfc5280"}, base.Sources, "the caller's config is not changed")

	off := newLinter(t, Config{})
	assert.Empty(t, off.Names(), "a disabled config runs nothing")
	r, err := off.Lint(newLeaf(t, leafOpts{}))
	require.NoError(t, err)
	assert.Zero(t, r.Passed+r.NotApplicable+r.NotEffective+len(r.Results))
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"any case source", func(c *Config) { c.Sources = []string{"cabf_br", "MOZILLA"} }, ""},
		{"disabled with nothing", func(c *Config) { *c = Config{} }, ""},
		{"unknown source", func(c *Config) { c.Sources = append(c.Sources, "CABF_TLS") }, `sources[11]: unknown lint source "CABF_TLS" (known: Apple, CABF_BR,`},
		{"unknown include", func(c *Config) { c.Include = []string{"e_nope"} }, `include[0]: unknown lint "e_nope"`},
		{"unknown exclude", func(c *Config) { c.Exclude = []string{"x"} }, `exclude[0]: unknown lint "x"`},
		{"both lists", func(c *Config) {
			c.Include = []string{"e_rsa_fermat_factorization"}
			c.Exclude = []string{"e_rsa_fermat_factorization"}
		}, "include: e_rsa_fermat_factorization is also excluded"},
		{"nothing selected", func(c *Config) { c.Sources = nil }, "no lint selected"},
		{"alert on pass", func(c *Config) { c.Alert.Statuses = []Status{StatusPass} }, `alert.statuses[0]: "pass" cannot alert`},
		{"alert source", func(c *Config) { c.Alert.Sources = []string{"nope"} }, `alert.sources[0]: unknown lint source "nope"`},
		{"alert on a lint that does not run", func(c *Config) { c.Alert.Include = []string{"e_rsa_fermat_factorization"} },
			"alert.include: e_rsa_fermat_factorization does not run: add it to include"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				_, err = New(c)
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			_, err = New(c)
			assert.ErrorContains(t, err, "lint config: ")
		})
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range Statuses() {
		got, err := ParseStatus(string(s))
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	got, err := ParseStatus("info")
	require.NoError(t, err)
	assert.Equal(t, StatusNotice, got, "zlint's name for notice")
	_, err = ParseStatus("Error")
	assert.ErrorContains(t, err, `unknown lint status "Error"`)
}

func TestFingerprint(t *testing.T) {
	def := newLinter(t, DefaultConfig())
	assert.Regexp(t, `^[0-9a-f]{32}$`, def.Fingerprint())

	alert := DefaultConfig()
	alert.Alert.Statuses = []Status{StatusWarn}
	alert.Alert.Precerts = true
	assert.Equal(t, def.Fingerprint(), newLinter(t, alert).Fingerprint(), "the alert policy does not change reports")

	spelled := DefaultConfig()
	for i, s := range spelled.Sources {
		spelled.Sources[i] = strings.ToLower(s)
	}
	assert.Equal(t, def.Fingerprint(), newLinter(t, spelled).Fingerprint(), "the same lints, however the sources are written")

	fewer := DefaultConfig()
	fewer.Exclude = []string{"e_rsa_mod_less_than_2048_bits"}
	assert.NotEqual(t, def.Fingerprint(), newLinter(t, fewer).Fingerprint(), "one lint less")

	more := DefaultConfig()
	more.Include = []string{"e_rsa_fermat_factorization"}
	assert.NotEqual(t, def.Fingerprint(), newLinter(t, more).Fingerprint(), "one lint more")
	assert.NotEqual(t, def.Fingerprint(), newLinter(t, Config{}).Fingerprint(), "linting off")
}
