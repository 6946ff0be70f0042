package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// scan calls fn for every dead letter, oldest first, through an ephemeral ordered consumer that
// delivers headers only: one pass over the stream, however many letters it holds.
func (s *Store) scan(ctx context.Context, fn func(apiwire.DLQLetter)) error {
	st, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", s.stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", s.stream, err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		HeadersOnly: true, InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("scan dead letters: %w", err)
	}
	last := info.State.LastSeq
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := c.FetchNoWait(256)
		if err != nil {
			return fmt.Errorf("scan dead letters: %w", err)
		}
		n, done := 0, false
		for m := range b.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			fn(letterOfMsg(m, meta.Sequence.Stream))
			// Letters added during the scan are left for the next one.
			done = done || meta.NumPending == 0 || meta.Sequence.Stream >= last
		}
		if err := b.Error(); err != nil {
			return fmt.Errorf("scan dead letters: %w", err)
		}
		if n == 0 || done {
			return nil
		}
	}
}
