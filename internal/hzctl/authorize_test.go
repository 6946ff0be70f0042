package hzctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/rules"
)

func TestAuthorize(t *testing.T) {
	const (
		tbs  = "3c4f0e1b5d2a6f7081928374655647382910abcdefabcdefabcdefabcdef0123"
		spki = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6"
	)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte("# mine\nwatch: [.example.com]\n"), 0o644))
	run := func(vars map[string]string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append([]string{"authorize"}, args...), IO{Out: &out, Err: &errOut, Env: env(vars)})
		return code, out.String(), errOut.String()
	}

	code, out, _ := run(nil, "--rules", path, "--tbs", tbs, "--note", "CDN, ticket 42")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "authorized tbsSha256 "+tbs)
	code, out, _ = run(map[string]string{"HZ_RULES_FILE": path}, "--spki", spki, "--names", "api.example.com,.cdn.example.com")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "for api.example.com, .cdn.example.com")
	code, out, _ = run(nil, "--rules", path, "--tbs", tbs)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "already authorized")

	s, err := rules.Load(path, nil, nil)
	require.NoError(t, err)
	p := s.Policy()
	require.Len(t, p.Authorizations, 2)
	assert.Equal(t, "CDN, ticket 42", p.Authorizations[0].Note)
	assert.Len(t, p.Authorizations[1].Names, 2)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), "# mine")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tbs", tbs}, "--rules (or HZ_RULES_FILE) is required"},
		{[]string{"--rules", path}, "exactly one of --tbs or --spki"},
		{[]string{"--rules", path, "--tbs", tbs, "--spki", spki}, "exactly one of --tbs or --spki"},
		{[]string{"--rules", path, "--spki", spki}, "--spki needs --names"},
		{[]string{"--rules", path, "--tbs", tbs, "--names", "a.example.com"}, "--names applies only to --spki"},
		{[]string{"--rules", path, "--tbs", "abc"}, "expected a SHA-256"},
		{[]string{"--rules", path, "--spki", spki, "--names", "*.*"}, "names[0]"},
	} {
		code, _, errOut := run(nil, tc.args...)
		assert.Equal(t, 1, code, tc.args)
		assert.Contains(t, errOut, tc.want, tc.args)
	}
}
