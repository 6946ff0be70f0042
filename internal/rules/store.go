package rules

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hzhook/hzhook/internal/filewatch"
)

// Store holds the current Policy of a rules file and reloads it when the file's content changes.
// It is safe for concurrent use: Policy is lock-free and returns either the old or the new policy,
// never a mix.
type Store struct {
	path    string
	file    *filewatch.File // nil for a static store
	current atomic.Pointer[Policy]
}

// Load reads and validates the rules file at path. log receives Watch's reload records (nil
// discards them) and reg its checks (hz_config_checks_total{file="rules"}; nil: not exported).
func Load(path string, log *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	s := &Store{path: path}
	s.file = filewatch.New(path, "rules", s.apply, func() []any {
		p := s.Policy()
		return []any{"watch", len(p.Watch), "authorizations", len(p.Authorizations)}
	}, log, reg)
	if err := s.file.Load(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewStatic returns a Store that always holds p (tests, and running without a rules file).
func NewStatic(p *Policy) *Store {
	s := &Store{}
	s.current.Store(p)
	return s
}

// Policy returns the current policy.
func (s *Store) Policy() *Policy { return s.current.Load() }

// Path returns the rules file path, empty for a static store.
func (s *Store) Path() string { return s.path }

// Reload re-reads the file now. On error the previous policy stays active.
func (s *Store) Reload() error {
	if s.file == nil {
		return fmt.Errorf("reload rules: store was not loaded from a file")
	}
	return s.file.Load()
}

func (s *Store) apply(data []byte) error {
	p, err := Parse(data)
	if err != nil {
		return err
	}
	s.current.Store(p)
	return nil
}

// Watch polls the file every interval until ctx is done and reloads it when its content changed
// (see package filewatch: Kubernetes volume swaps are caught; an unreadable or invalid file keeps
// the previous policy and is reported once at WARN, with the line of the error). On a static store
// Watch returns at once.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	if s.file == nil {
		return
	}
	s.file.Watch(ctx, interval)
}
