package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/hzhook/hzhook/internal/filewatch"
)

const (
	// minSecretLen rejects secrets too short to resist guessing; Hardenize
	// generates 32 hex characters.
	minSecretLen = 16
)

// Hook is one event hook's configuration.
type Hook struct {
	Org     string   `yaml:"org" json:"org"`
	ID      string   `yaml:"id" json:"id"`
	Secrets []string `yaml:"secrets" json:"secrets"`
}

// Store is the file-backed secret store. It is safe for concurrent use;
// Lookup is lock-free and sees either the old or the new secrets, never a mix.
type Store struct {
	file    *filewatch.File // nil for a static store
	current atomic.Pointer[snapshot]
}

// snapshot is immutable once stored.
type snapshot struct {
	secrets map[hookKey][]string
	hooks   int
}

// hookKey names a hook; a struct, so a lookup allocates nothing.
type hookKey struct{ org, id string }

// NewStore returns a static Store holding hooks, after validating them.
// Reload and Watch do nothing useful on it.
func NewStore(hooks []Hook) (*Store, error) {
	snap, err := newSnapshot(hooks)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	s := &Store{}
	s.current.Store(snap)
	return s, nil
}

// LoadStore reads and validates the YAML (or JSON) secrets file at path. log receives Watch's
// reload records (nil discards them) and reg its checks (hz_config_checks_total{file="secrets"};
// nil: not exported).
func LoadStore(path string, log *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	s := &Store{}
	s.file = filewatch.New(path, "secrets", s.apply, func() []any { return []any{"hooks", s.Hooks()} }, log, reg)
	if err := s.file.Load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Lookup returns a copy of the secrets of the hook id of org, or nil if the
// pair is unknown.
func (s *Store) Lookup(org, hookID string) []string {
	return slices.Clone(s.current.Load().secrets[hookKey{org, hookID}])
}

// Hooks returns the number of hooks loaded.
func (s *Store) Hooks() int {
	return s.current.Load().hooks
}

// Reload re-reads the file now. On error the previous secrets stay active.
func (s *Store) Reload() error {
	if s.file == nil {
		return errors.New("reload secrets: store was not loaded from a file")
	}
	return s.file.Load()
}

func (s *Store) apply(data []byte) error {
	hooks, err := decodeFile(data)
	if err != nil {
		return err
	}
	snap, err := newSnapshot(hooks)
	if err != nil {
		return err
	}
	s.current.Store(snap)
	return nil
}

// Watch polls the file every interval until ctx is done and reloads it when its
// content changed (see package filewatch: Kubernetes Secret volume swaps are
// caught; an unreadable or invalid file keeps the previous secrets and is
// reported once at WARN, never with a secret in it). On a static store Watch
// returns at once.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	if s.file == nil {
		return
	}
	s.file.Watch(ctx, interval)
}

// file is the on-disk format. Secrets are decoded by secretList so that a
// type error never quotes a secret, as yaml.v3's own messages would.
type file struct {
	Hooks []fileHook `yaml:"hooks"`
}

type fileHook struct {
	Org     string     `yaml:"org"`
	ID      string     `yaml:"id"`
	Secrets secretList `yaml:"secrets"`
}

type secretList []string

// UnmarshalYAML accepts a sequence of scalars and reports mistakes by line
// only.
func (l *secretList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: secrets must be a list of strings", n.Line)
	}
	out := make(secretList, 0, len(n.Content))
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: each secret must be a string", item.Line)
		}
		if item.Tag == "!!null" {
			out = append(out, "")
			continue
		}
		out = append(out, item.Value)
	}
	*l = out
	return nil
}

func decodeFile(data []byte) ([]Hook, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("file is empty: add a hooks list")
		}
		return nil, fmt.Errorf("parse: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one yaml document: keep all hooks in one")
	}
	hooks := make([]Hook, len(f.Hooks))
	for i, h := range f.Hooks {
		hooks[i] = Hook{Org: h.Org, ID: h.ID, Secrets: h.Secrets}
	}
	return hooks, nil
}

// newSnapshot validates hooks. Errors name the entry by index, org and id but
// never quote a secret.
func newSnapshot(hooks []Hook) (*snapshot, error) {
	if len(hooks) == 0 {
		return nil, errors.New("no hooks: add at least one entry under hooks")
	}
	secrets := make(map[hookKey][]string, len(hooks))
	first := make(map[hookKey]int, len(hooks))
	for i, h := range hooks {
		err := validateHook(h)
		key := hookKey{h.Org, h.ID}
		if prev, dup := first[key]; err == nil && dup {
			err = fmt.Errorf("duplicate of hooks[%d]: list each org and id once, with all its secrets", prev)
		}
		if err != nil {
			return nil, fmt.Errorf("hooks[%d] (org %q, id %q): %w", i, h.Org, h.ID, err)
		}
		first[key] = i
		secrets[key] = slices.Clone(h.Secrets)
	}
	return &snapshot{secrets: secrets, hooks: len(hooks)}, nil
}

func validateHook(h Hook) error {
	switch {
	case strings.TrimSpace(h.Org) == "":
		return errors.New("org is empty: set it to the X-Hardenize-Org label, e.g. demo or parent.child")
	case strings.TrimSpace(h.ID) == "":
		return errors.New("id is empty: set it to the event hook id (X-Hardenize-EventHookId)")
	case strings.ContainsRune(h.Org, 0) || strings.ContainsRune(h.ID, 0):
		return errors.New("org and id must not contain NUL bytes")
	case len(h.Secrets) == 0:
		return errors.New("no secrets: add the hook's secret under secrets")
	}
	for j, secret := range h.Secrets {
		switch {
		case secret == "":
			return fmt.Errorf("secrets[%d] is empty: remove it or paste the hook's secret", j)
		case len(secret) < minSecretLen:
			return fmt.Errorf("secrets[%d] is shorter than %d characters: paste the whole secret", j, minSecretLen)
		}
	}
	return nil
}
