package rules

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// defaultWatchInterval is used when Watch is given a non-positive interval.
const defaultWatchInterval = 10 * time.Second

// Store holds the current Policy of a rules file and reloads it when the file's content changes.
// It is safe for concurrent use: Policy is lock-free and returns either the old or the new policy,
// never a mix.
type Store struct {
	path    string
	log     *slog.Logger
	current atomic.Pointer[loaded]
	// reloadMu keeps concurrent reloads from storing an older file last.
	reloadMu sync.Mutex
}

type loaded struct {
	policy *Policy
	sum    [sha256.Size]byte
}

// Load reads and validates the rules file at path. log receives Watch's reload records; nil
// discards them.
func Load(path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: path, log: log}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewStatic returns a Store that always holds p (tests, and running without a rules file).
func NewStatic(p *Policy) *Store {
	s := &Store{log: slog.New(slog.DiscardHandler)}
	s.current.Store(&loaded{policy: p})
	return s
}

// Policy returns the current policy.
func (s *Store) Policy() *Policy { return s.current.Load().policy }

// Path returns the rules file path, empty for a static store.
func (s *Store) Path() string { return s.path }

// Reload re-reads the file now. On error the previous policy stays active.
func (s *Store) Reload() error {
	if s.path == "" {
		return fmt.Errorf("reload rules: store was not loaded from a file")
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("rules file: %w", err)
	}
	return s.apply(data, sha256.Sum256(data))
}

// apply must be called with reloadMu held.
func (s *Store) apply(data []byte, sum [sha256.Size]byte) error {
	p, err := Parse(data)
	if err != nil {
		return fmt.Errorf("rules file %s: %w", s.path, err)
	}
	s.current.Store(&loaded{policy: p, sum: sum})
	return nil
}

// Watch polls the file every interval (10s if not positive) until ctx is done and reloads it when
// its content changed. Comparing a hash of the content rather than the modification time also
// catches the symlink swap with which Kubernetes updates a mounted ConfigMap. An unreadable or
// invalid file leaves the previous policy active and is reported once at WARN (with the line of
// the error); a successful reload is reported at INFO. On a static store Watch returns at once.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	if s.path == "" {
		return
	}
	if interval <= 0 {
		interval = defaultWatchInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var rejected [sha256.Size]byte
	readFailing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		s.poll(ctx, &rejected, &readFailing)
	}
}

func (s *Store) poll(ctx context.Context, rejected *[sha256.Size]byte, readFailing *bool) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	data, err := os.ReadFile(s.path)
	if err != nil {
		if !*readFailing {
			s.log.WarnContext(ctx, "rules file unreadable, keeping previous rules", "path", s.path, "err", err)
		}
		*readFailing = true
		return
	}
	*readFailing = false
	sum := sha256.Sum256(data)
	if sum == s.current.Load().sum || sum == *rejected {
		return
	}
	if err := s.apply(data, sum); err != nil {
		*rejected = sum
		s.log.WarnContext(ctx, "rules file invalid, keeping previous rules", "path", s.path, "err", err)
		return
	}
	*rejected = [sha256.Size]byte{}
	p := s.Policy()
	s.log.InfoContext(ctx, "rules reloaded", "path", s.path, "watch", len(p.Watch), "authorizations", len(p.Authorizations))
}
