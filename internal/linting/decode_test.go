package linting

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/lint/corpus"
)

func TestPayloadSHA256(t *testing.T) {
	sha := strings.Repeat("Ab", 32)
	tests := []struct {
		name, data, want, wantErr string
	}{
		{"first", `{"sha256":"` + sha + `","chain":["x"]}`, sha, ""},
		{"after nested values", `{"log":"l","chain":["a",{"b":[1,2]}],"n":null,"sha256":"` + sha + `"}`, sha, ""},
		{"first of two", `{"sha256":"a","sha256":"b"}`, "a", ""},
		{"missing", `{"tbsSha256":"` + sha + `"}`, "", "sha256 missing"},
		{"not a string", `{"sha256":12}`, "", "sha256 is not a string"},
		{"not an object", `["sha256"]`, "", "not a JSON object"},
		{"broken", `{"log":`, "", "EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := payloadSHA256([]byte(tc.data))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// BenchmarkKey is the lint stage's cost of deciding a message's certificate is linted already,
// before asking the store: the envelope and the payload's sha256.
func BenchmarkKey(b *testing.B) {
	c := corpus.Certs(b)[0]
	m := ctEntry(b, c, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := key(m); err != nil {
			b.Fatal(err)
		}
	}
}
