package dlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/queue"
)

// ErrNotFound reports a sequence that holds no dead letter (never stored, redriven or purged).
var ErrNotFound = errors.New("dead letter not found")

// Options configure a Store.
type Options struct {
	Stream string // default queue.StreamDLQ
	// Reverifier verifies rejected letters again on redrive; nil refuses their redrive.
	Reverifier Reverifier
}

// Store reads, redrives and purges the dead letters of one stream.
type Store struct {
	js         jetstream.JetStream
	stream     string
	reverifier Reverifier
}

// New returns a Store on js.
func New(js jetstream.JetStream, o Options) *Store {
	if o.Stream == "" {
		o.Stream = queue.StreamDLQ
	}
	return &Store{js: js, stream: o.Stream, reverifier: o.Reverifier}
}

// List returns page (from 1) of the dead letters matching f, oldest first, pageSize per page.
// Total counts every match. Headers and bodies are not loaded: use Get.
func (s *Store) List(ctx context.Context, f Filter, page, pageSize int) (apiwire.List[apiwire.DLQLetter], error) {
	page, pageSize = max(page, 1), max(pageSize, 1)
	items := []apiwire.DLQLetter{}
	first, total := (page-1)*pageSize, 0
	err := s.scan(ctx, func(l apiwire.DLQLetter) {
		if !f.Match(l) {
			return
		}
		if total >= first && len(items) < pageSize {
			items = append(items, l)
		}
		total++
	})
	return apiwire.NewList(items, total, page, pageSize), err
}

// Get returns one dead letter with its headers and body.
func (s *Store) Get(ctx context.Context, seq uint64) (Letter, error) {
	st, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		return Letter{}, fmt.Errorf("dead-letter stream %s: %w", s.stream, err)
	}
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Letter{}, fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	if err != nil {
		return Letter{}, fmt.Errorf("get dead letter %d: %w", seq, err)
	}
	return Letter{DLQLetter: letterOf(m.Sequence, m.Subject, m.Header, len(m.Data)), Header: m.Header, Data: m.Data}, nil
}

// Purge deletes one dead letter for good.
func (s *Store) Purge(ctx context.Context, seq uint64) error {
	if _, err := s.Get(ctx, seq); err != nil {
		return err
	}
	return s.delete(ctx, seq)
}

func (s *Store) delete(ctx context.Context, seq uint64) error {
	st, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", s.stream, err)
	}
	if err := st.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	return nil
}

// scan calls fn for every dead letter, oldest first: one pass over the stream, headers only,
// however many letters it holds. Letters added during the scan are left for the next one.
func (s *Store) scan(ctx context.Context, fn func(apiwire.DLQLetter)) error {
	err := queue.Scan(ctx, s.js, s.stream, queue.ScanOptions{HeadersOnly: true}, func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("dead letter metadata: %w", err)
		}
		fn(letterOfMsg(m, meta.Sequence.Stream))
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan dead letters: %w", err)
	}
	return nil
}
