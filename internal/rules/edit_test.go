package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	tbsA  = "3c4f0e1b5d2a6f7081928374655647382910abcdefabcdefabcdefabcdef0123"
	spkiA = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6"
)

func TestAddAuthorizationKeepsCommentsAndIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	orig := "# our policy\nwatch:\n  - .example.com # everything\nrules:\n  wildcard: false # on purpose\n"
	require.NoError(t, os.WriteFile(path, []byte(orig), 0o640))

	added, err := AddAuthorization(path, AuthorizationSpec{TBSSHA256: strings.ToUpper(tbsA), Note: "ticket 42"})
	require.NoError(t, err)
	assert.True(t, added)
	added, err = AddAuthorization(path, AuthorizationSpec{SPKISHA256: spkiA, Names: []string{"api.example.com", ".cdn.example.com"}})
	require.NoError(t, err)
	assert.True(t, added)
	added, err = AddAuthorization(path, AuthorizationSpec{TBSSHA256: tbsA, Note: "again"})
	require.NoError(t, err)
	assert.False(t, added, "the same issuance is authorized once")
	added, err = AddAuthorization(path, AuthorizationSpec{SPKISHA256: spkiA, Names: []string{".CDN.example.com", "api.example.com"}})
	require.NoError(t, err)
	assert.False(t, added, "same key and names in another order and case")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(data)
	for _, comment := range []string{"# our policy", "# everything", "# on purpose"} {
		assert.Contains(t, text, comment)
	}
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())

	p, err := Parse(data)
	require.NoError(t, err)
	assert.False(t, p.Rules.On(TypeWildcard))
	require.Len(t, p.Authorizations, 2)
	assert.Equal(t, tbsA, p.Authorizations[0].TBSSHA256)
	assert.Equal(t, "ticket 42", p.Authorizations[0].Note)
	assert.Equal(t, spkiA, p.Authorizations[1].SPKISHA256)
	assert.Len(t, p.Authorizations[1].Names, 2)
}

func TestAddAuthorizationCreatesTheFileAndRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	added, err := AddAuthorization(path, AuthorizationSpec{TBSSHA256: tbsA})
	require.NoError(t, err)
	assert.True(t, added)
	p, err := Load(path, nil, nil)
	require.NoError(t, err)
	assert.Len(t, p.Policy().Authorizations, 1)

	_, err = AddAuthorization(path, AuthorizationSpec{SPKISHA256: spkiA})
	assert.ErrorContains(t, err, "spkiSha256 needs names")
	_, err = AddAuthorization(path, AuthorizationSpec{TBSSHA256: "abc"})
	assert.ErrorContains(t, err, "expected a SHA-256")

	broken := filepath.Join(dir, "broken.yaml")
	require.NoError(t, os.WriteFile(broken, []byte("rules:\n  nope: true\n"), 0o600))
	_, err = AddAuthorization(broken, AuthorizationSpec{TBSSHA256: tbsA})
	assert.ErrorContains(t, err, "line 2: rules.nope")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file left behind")
}
