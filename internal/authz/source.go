package authz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
)

// Store is what authorizations need of the inventory (*inventory.Store).
type Store interface {
	Authorize(ctx context.Context, a inventory.AuthorizationRow, covers func(hosts []string) bool) (added bool, marked int, err error)
	Authorizations(ctx context.Context) ([]inventory.AuthorizationRow, error)
	AuthorizationsVersion(ctx context.Context) (string, error)
}

// PolicySource returns the rules file's policy in force (*rules.Store).
type PolicySource interface {
	Policy() *rules.Policy
}

// ErrInvalid marks an authorization that cannot be stored as asked; the message says why.
var ErrInvalid = errors.New("invalid authorization")

// Source is the policy in force: the rules file's, with the authorizations stored in the
// inventory added. Policy is lock-free and computes the merged policy only when the file was
// reloaded or the stored authorizations changed; Refresh (after every Authorize, and from Watch
// for the other replicas' authorizations) reads the database. It is safe for concurrent use.
type Source struct {
	file  PolicySource // nil: no rules file, Policy is nil
	store Store
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex // one Refresh at a time
	version string
	stored  atomic.Pointer[[]rules.Authorization]
	merged  atomic.Pointer[merged]
}

type merged struct {
	base   *rules.Policy
	stored *[]rules.Authorization
	policy *rules.Policy
}

// New returns the Source of the rules file file (nil when there is none) and the authorizations
// in store. Call Refresh before the first Policy that must see the stored ones.
func New(file PolicySource, store Store, log *slog.Logger, now func() time.Time) *Source {
	s := &Source{file: file, store: store, log: log, now: now}
	s.stored.Store(&[]rules.Authorization{})
	return s
}

// Policy returns the rules file's policy with the stored authorizations, or nil without a rules
// file (no findings are made then).
func (s *Source) Policy() *rules.Policy {
	if s.file == nil {
		return nil
	}
	base, stored := s.file.Policy(), s.stored.Load()
	if m := s.merged.Load(); m != nil && m.base == base && m.stored == stored {
		return m.policy
	}
	p := base.WithAuthorizations(*stored)
	s.merged.Store(&merged{base: base, stored: stored, policy: p})
	return p
}

// Refresh reads the stored authorizations again when they changed since the last Refresh.
func (s *Source) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.store.AuthorizationsVersion(ctx)
	if err != nil {
		return err
	}
	if v == s.version {
		return nil
	}
	rows, err := s.store.Authorizations(ctx)
	if err != nil {
		return err
	}
	out := make([]rules.Authorization, 0, len(rows))
	for _, r := range rows {
		a, err := rules.NewAuthorization(rules.AuthorizationSpec{TBSSHA256: r.TBSSHA256, SPKISHA256: r.SPKISHA256, Names: r.Names, Note: r.Note})
		if err != nil { // stored by this code, so valid; never let one row hide the others
			s.log.WarnContext(ctx, "stored authorization ignored", "id", r.ID, "err", err)
			continue
		}
		out = append(out, a)
	}
	s.stored.Store(&out)
	s.version = v
	return nil
}

// Watch refreshes every interval until ctx ends, so that authorizations made through another
// replica apply here within an interval. A failed read keeps the authorizations known so far and
// is logged once until a read succeeds again.
func (s *Source) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.Refresh(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			s.log.WarnContext(ctx, "stored authorizations not refreshed", "err", err)
			failing = true
		case err == nil && failing:
			s.log.InfoContext(ctx, "stored authorizations refreshed again")
			failing = false
		}
	}
}

// Result is the outcome of Authorize.
type Result struct {
	Authorization inventory.AuthorizationRow
	Added         bool // false: the same authorization was stored before
	Findings      int  // findings it authorized now
}

// Bounds of what an authorization records.
const (
	maxNote   = 1000
	maxAuthor = 64
)

// Authorize validates spec as the rules file would, stores it in the inventory with author (e.g.
// "console"), marks the findings it covers as authorized (their alerts, if not yet published,
// never will be) and refreshes this replica's policy, so no later event of that issuance or key
// makes a finding. Storing the same authorization again changes nothing. An error wrapping
// ErrInvalid is the caller's to fix.
func (s *Source) Authorize(ctx context.Context, spec rules.AuthorizationSpec, author string) (Result, error) {
	a, err := rules.NewAuthorization(spec)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	switch {
	case len(a.Note) > maxNote:
		return Result{}, fmt.Errorf("%w: note: longer than %d bytes", ErrInvalid, maxNote)
	case author == "" || len(author) > maxAuthor || strings.IndexFunc(author, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return Result{}, fmt.Errorf("%w: author: 1 to %d printable characters", ErrInvalid, maxAuthor)
	}
	row := inventory.AuthorizationRow{
		ID: id(a), TBSSHA256: a.TBSSHA256, SPKISHA256: a.SPKISHA256, Names: a.NameList(), Note: a.Note,
		Author: author, CreatedAt: inventory.Ms(s.now()),
	}
	added, marked, err := s.store.Authorize(ctx, row, a.CoversHosts)
	if err != nil {
		return Result{}, err
	}
	if err := s.Refresh(ctx); err != nil {
		// Stored: Watch picks it up. The caller still learns that this replica lags.
		return Result{Authorization: row, Added: added, Findings: marked}, fmt.Errorf("authorization stored, policy not refreshed: %w", err)
	}
	s.log.InfoContext(ctx, "authorization stored", "id", row.ID, "author", author, "added", added, "findings", marked,
		"tbsSha256", row.TBSSHA256, "spkiSha256", row.SPKISHA256, "names", row.Names)
	return Result{Authorization: row, Added: added, Findings: marked}, nil
}

// List returns the stored authorizations, oldest first.
func (s *Source) List(ctx context.Context) ([]inventory.AuthorizationRow, error) {
	return s.store.Authorizations(ctx)
}

// id names what a authorizes: the issuance, or the key with its sorted names.
func id(a rules.Authorization) string {
	key := "tbs:" + a.TBSSHA256
	if a.SPKISHA256 != "" {
		key = "spki:" + a.SPKISHA256 + ":" + strings.Join(a.NameList(), ",")
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}
