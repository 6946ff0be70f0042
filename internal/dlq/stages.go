package dlq

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/queue"
)

// Stages returns how many dead letters each stage ("worker", "pubsub", "alerts", ...) holds, from
// the stream's subject counts: one request, however many letters there are.
func (s *Store) Stages(ctx context.Context) (map[string]uint64, error) {
	st, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", s.stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(queue.DLQSubjectPrefix+">"))
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", s.stream, err)
	}
	out := make(map[string]uint64, len(info.State.Subjects))
	for subject, n := range info.State.Subjects {
		out[strings.TrimPrefix(subject, queue.DLQSubjectPrefix)] += n
	}
	return out, nil
}
