package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Certificates returns the certificates with the given sha256s (hex, any case) that are stored,
// keyed by lowercase sha256: the rows a list of findings or CT entries refers to, read at once.
func (s *Store) Certificates(ctx context.Context, sha256s []string) (map[string]Certificate, error) {
	keys := make([]string, 0, len(sha256s))
	for _, k := range sha256s {
		keys = append(keys, strings.ToLower(k))
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	out := make(map[string]Certificate, len(keys))
	const chunk = 500 // well under every database's parameter limit
	for len(keys) > 0 {
		n := min(chunk, len(keys))
		var a args
		items, err := s.queryCertificates(ctx, "SELECT "+certSelect+" FROM certificates c WHERE c.sha256 IN ("+a.addAll(keys[:n])+")", a.vals...)
		if err != nil {
			return nil, fmt.Errorf("get certificates: %w", err)
		}
		for _, c := range items {
			out[c.SHA256] = c
		}
		keys = keys[n:]
	}
	return out, nil
}
