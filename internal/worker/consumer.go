package worker

import (
	"sort"
	"strings"

	"github.com/hzhook/hzhook/internal/queue"
)

// ConsumerName is the durable consumer shared by every replica of the worker group for types:
// "hz-worker-" followed by the sorted subject tokens, e.g. "hz-worker-ct_entry".
func ConsumerName(types []string) string {
	tokens := make([]string, 0, len(types))
	for _, t := range types {
		tokens = append(tokens, queue.Token(t))
	}
	sort.Strings(tokens)
	return "hz-worker-" + strings.Join(tokens, "-")
}
