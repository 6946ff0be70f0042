package config

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testConfig struct {
	Listen    string
	Token     string
	Tolerance time.Duration
	MaxBody   int64
	Dev       bool
	Types     []string
	APIToken  string
}

func newTestSet(env map[string]string) (*Set, *testConfig) {
	var c testConfig
	s := NewSet("test", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	s.String(&c.Listen, "listen", "HZ_LISTEN", ":8080", "webhook listener address")
	s.SecretString(&c.Token, "token", "HZ_TOKEN", "", "admin token")
	s.Duration(&c.Tolerance, "tolerance", "HZ_TOLERANCE", 5*time.Minute, "timestamp tolerance")
	s.Int64(&c.MaxBody, "max-body-bytes", "HZ_MAX_BODY_BYTES", 1<<20, "max body")
	s.Bool(&c.Dev, "dev", "", false, "development mode")
	s.List(&c.Types, "types", "HZ_TYPES", []string{"ct.entry", "pki.cert.new"}, "event types")
	s.SecretEnv(&c.APIToken, "HZ_API_TOKEN", "api token")
	return s, &c
}

func TestParsePrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want testConfig
	}{
		{
			name: "defaults",
			want: testConfig{Listen: ":8080", Tolerance: 5 * time.Minute, MaxBody: 1 << 20, Types: []string{"ct.entry", "pki.cert.new"}},
		},
		{
			name: "env overrides default",
			env:  map[string]string{"HZ_LISTEN": ":9999", "HZ_TYPES": "ct.entry", "HZ_TOLERANCE": "30s"},
			want: testConfig{Listen: ":9999", Tolerance: 30 * time.Second, MaxBody: 1 << 20, Types: []string{"ct.entry"}},
		},
		{
			name: "flag overrides env",
			env:  map[string]string{"HZ_LISTEN": ":9999"},
			args: []string{"--listen", ":7777", "--dev"},
			want: testConfig{Listen: ":7777", Tolerance: 5 * time.Minute, MaxBody: 1 << 20, Dev: true, Types: []string{"ct.entry", "pki.cert.new"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newTestSet(tc.env)
			require.NoError(t, s.Parse(tc.args))
			assert.Equal(t, tc.want, *c)
		})
	}
}

func TestParseInvalidNamesTheSetting(t *testing.T) {
	s, _ := newTestSet(map[string]string{"HZ_TOLERANCE": "five minutes"})
	err := s.Parse(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HZ_TOLERANCE")

	s, _ = newTestSet(nil)
	s.FlagSet().SetOutput(&bytes.Buffer{})
	err = s.Parse([]string{"--max-body-bytes", "lots"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max-body-bytes")
}

func TestUsageAndEffective(t *testing.T) {
	s, _ := newTestSet(map[string]string{"HZ_TOKEN": "s3cr3t-value"})
	require.NoError(t, s.Parse(nil))

	var buf bytes.Buffer
	s.PrintUsage(&buf)
	for _, st := range s.Settings() {
		assert.Contains(t, buf.String(), "--"+st.Flag)
		assert.Contains(t, buf.String(), st.Usage)
	}
	assert.Contains(t, buf.String(), "HZ_LISTEN")

	eff := s.Effective()
	assert.Equal(t, "*****", eff["token"])
	assert.NotContains(t, eff, "s3cr3t-value")
	assert.Equal(t, []string{"HZ_API_TOKEN", "HZ_LISTEN", "HZ_MAX_BODY_BYTES", "HZ_TOKEN", "HZ_TOLERANCE", "HZ_TYPES"}, s.EnvNames())
	assert.True(t, IsHelp(s.Parse([]string{"--help"})))
}

func TestSecretEnvHasNoFlag(t *testing.T) {
	s, c := newTestSet(map[string]string{"HZ_API_TOKEN": "tok-123"})
	require.NoError(t, s.Parse(nil))
	assert.Equal(t, "tok-123", c.APIToken)
	assert.Equal(t, "*****", s.Effective()["HZ_API_TOKEN"])

	s, _ = newTestSet(nil)
	s.FlagSet().SetOutput(&bytes.Buffer{})
	require.Error(t, s.Parse([]string{"--api-token", "x"}), "no flag: a token never lands in shell history")
	var buf bytes.Buffer
	s.PrintUsage(&buf)
	assert.Contains(t, buf.String(), "env HZ_API_TOKEN (environment only)")
}

// Integers are decimal and whole: what strconv.ParseInt accepts, nothing that only fmt.Sscan would.
func TestIntegersAreParsedStrictly(t *testing.T) {
	tests := []struct {
		value string
		want  int64
		ok    bool
	}{
		{"5", 5, true},
		{" 12 ", 12, true},
		{"-1", -1, true},
		{"5x", 0, false},
		{"0x10", 0, false},
		{"1e3", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			var n int
			var n64 int64
			s := NewSet("test", func(k string) (string, bool) { return tc.value, true })
			s.Int(&n, "max-deliver", "HZ_MAX_DELIVER", 1, "deliveries")
			s.Int64(&n64, "max-body-bytes", "HZ_MAX_BODY_BYTES", 1, "bytes")
			err := s.Parse(nil)
			if !tc.ok {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "HZ_MAX_DELIVER", "the error names the setting")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, int(tc.want), n)
			assert.Equal(t, tc.want, n64)
		})
	}
}

func TestDurationList(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []time.Duration
		err   string
	}{
		{"default", "", []time.Duration{time.Second, time.Minute}, ""},
		{"list", "1s, 250ms,2m", []time.Duration{time.Second, 250 * time.Millisecond, 2 * time.Minute}, ""},
		{"not a duration", "1s,soon", nil, `"soon" is not a duration`},
		{"negative", "-1s", nil, "must not be negative"},
		{"empty", " , ", nil, "at least one duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ds []time.Duration
			env := map[string]string{}
			if tc.value != "" {
				env["HZ_BACKOFF"] = tc.value
			}
			s := NewSet("test", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			s.DurationList(&ds, "backoff", "HZ_BACKOFF", []time.Duration{time.Second, time.Minute}, "delays")
			err := s.Parse(nil)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.ErrorContains(t, err, "HZ_BACKOFF")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, ds)
		})
	}
	var ds []time.Duration
	s := NewSet("test", func(string) (string, bool) { return "", false })
	s.DurationList(&ds, "backoff", "HZ_BACKOFF", []time.Duration{time.Second, 10 * time.Minute, 2 * time.Hour, 90 * time.Second}, "delays")
	assert.Equal(t, "1s,10m,2h,1m30s", s.Settings()[0].Default, "--help shows the default list as people write it")
}
