package filewatch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// defaultInterval is used when Watch is given a non-positive interval.
const defaultInterval = 10 * time.Second

// File is one watched file. Its methods are safe for concurrent use; Apply is never called
// concurrently with itself, so an older file can never be applied last.
type File struct {
	path   string
	what   string // "secrets", "rules": names the file in logs and errors
	apply  func(data []byte) error
	info   func() []any // attributes logged after a reload, e.g. a count; may be nil
	log    *slog.Logger
	checks *prometheus.CounterVec // by outcome

	mu          sync.Mutex
	sum         [sha256.Size]byte // content applied last
	rejected    [sha256.Size]byte // content that failed last; not retried until it changes
	readFailing bool
}

// Outcomes of a check, the outcome label of hz_config_checks_total.
const (
	OutcomeUnchanged  = "unchanged"
	OutcomeReloaded   = "reloaded"
	OutcomeInvalid    = "invalid"    // refused by apply; the previous content stays
	OutcomeUnreadable = "unreadable" // missing or unreadable; the previous content stays
)

// New returns a File for path. apply parses data and makes it current, or returns an error and
// keeps the previous content; info, if not nil, returns attributes describing what was loaded.
// Checks are counted on reg (nil: not exported) with the label file=what.
func New(path, what string, apply func(data []byte) error, info func() []any, log *slog.Logger, reg prometheus.Registerer) *File {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "hz_config_checks_total",
		Help:        "Checks of a watched configuration file, by outcome (unchanged, reloaded, invalid, unreadable).",
		ConstLabels: prometheus.Labels{"file": what},
	}, []string{"outcome"})
	if reg != nil {
		if err := reg.Register(checks); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				checks = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return &File{path: path, what: what, apply: apply, info: info, log: log, checks: checks}
}

// Load reads the file now and applies it, whether it changed or not.
func (f *File) Load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("%s file: %w", f.what, err)
	}
	if err := f.apply(data); err != nil {
		return fmt.Errorf("%s file %s: %w", f.what, f.path, err)
	}
	f.sum = sha256.Sum256(data)
	return nil
}

// Watch polls the file every interval until ctx is done and applies it when its content changed.
func (f *File) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = defaultInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		f.poll(ctx)
	}
}

func (f *File) poll(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := os.ReadFile(f.path)
	if err != nil {
		if !f.readFailing {
			f.log.WarnContext(ctx, f.what+" file unreadable, keeping the previous one", "path", f.path, "err", err)
		}
		f.readFailing = true
		f.checks.WithLabelValues(OutcomeUnreadable).Inc()
		return
	}
	f.readFailing = false
	sum := sha256.Sum256(data)
	switch sum {
	case f.sum:
		f.checks.WithLabelValues(OutcomeUnchanged).Inc()
		return
	case f.rejected:
		f.checks.WithLabelValues(OutcomeInvalid).Inc()
		return
	}
	if err := f.apply(data); err != nil {
		f.rejected = sum
		f.checks.WithLabelValues(OutcomeInvalid).Inc()
		f.log.WarnContext(ctx, f.what+" file invalid, keeping the previous one", "path", f.path, "err", err)
		return
	}
	f.checks.WithLabelValues(OutcomeReloaded).Inc()
	f.sum, f.rejected = sum, [sha256.Size]byte{}
	attrs := []any{"path", f.path}
	if f.info != nil {
		attrs = append(attrs, f.info()...)
	}
	f.log.InfoContext(ctx, f.what+" reloaded", attrs...)
}
