package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWatchItemMatching(t *testing.T) {
	tests := []struct {
		item string
		host string
		want bool
	}{
		{"example.com", "example.com", true},
		{"example.com", "EXAMPLE.com.", true},
		{"example.com", "www.example.com", false},
		{".example.com", "example.com", true},
		{".example.com", "a.b.example.com", true},
		{".example.com", "notexample.com", false},
		{".example.com", "example.com.evil.org", false},
		{"www.example.com", "*.example.com", true},
		{"www.example.com", "?.example.com", true},
		{"example.com", "*.example.com", false},
		{".example.com", "*.example.com", true},
		{".example.com", "*.com", true},
		{"a.b.example.com", "*.example.com", false},
		{".bücher.example", "www.xn--bcher-kva.example", true},
		{"xn--bcher-kva.example", "BÜCHER.example", true},
		{"192.0.2.1", "192.0.2.1", true},
		{"2001:db8::1", "2001:0db8::1", true},
	}
	for _, tc := range tests {
		t.Run(tc.item+" "+tc.host, func(t *testing.T) {
			var w WatchItem
			var err error
			w.Name, w.Subdomains, err = normaliseName(tc.item, false)
			require.NoError(t, err)
			assert.Equal(t, tc.want, w.matches(normaliseHost(tc.host)))
		})
	}
}

func TestWatchNamesAreValidated(t *testing.T) {
	for _, bad := range []string{"", ".", "*.example.com", "exa mple.com", ".192.0.2.1"} {
		_, _, err := normaliseName(bad, false)
		assert.Error(t, err, bad)
	}
}
