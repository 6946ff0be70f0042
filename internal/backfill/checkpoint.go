package backfill

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Checkpoint is the saved position of a backfill: events up to Cursor are stored, and Seen lists
// the ids (with their createdOn) already stored within the overlap before Cursor.
type Checkpoint struct {
	Org     string      `json:"org"`
	HookID  string      `json:"hookId"`
	Type    string      `json:"type,omitempty"`
	Cursor  time.Time   `json:"cursor"`
	Seen    []SeenEvent `json:"seen"`
	Updated time.Time   `json:"updated"`
}

// SeenEvent is one event id stored at or near the cursor.
type SeenEvent struct {
	ID        string    `json:"id"`
	CreatedOn time.Time `json:"createdOn"`
}

// CheckpointStore loads and saves a Checkpoint. Save replaces the previous one atomically.
type CheckpointStore interface {
	Load(ctx context.Context) (cp Checkpoint, ok bool, err error)
	Save(ctx context.Context, cp Checkpoint) error
}

func newCheckpoint(o Options, p position, now time.Time) Checkpoint {
	cp := Checkpoint{Org: o.Org, HookID: o.HookID, Type: o.Type, Cursor: p.cursor, Updated: now.UTC()}
	for id, t := range p.seen {
		cp.Seen = append(cp.Seen, SeenEvent{ID: id, CreatedOn: t})
	}
	slices.SortFunc(cp.Seen, func(a, b SeenEvent) int {
		if c := a.CreatedOn.Compare(b.CreatedOn); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return cp
}

func (cp Checkpoint) position() position {
	p := position{cursor: cp.Cursor.UTC(), seen: make(map[string]time.Time, len(cp.Seen))}
	for _, s := range cp.Seen {
		p.seen[s.ID] = s.CreatedOn.UTC()
	}
	return p
}

// matches refuses a checkpoint of another org, hook or type: resuming from it would skip events.
func (cp Checkpoint) matches(o Options) error {
	if cp.Org != o.Org || cp.HookID != o.HookID || cp.Type != o.Type {
		return fmt.Errorf("checkpoint is for org %q hook %q type %q, not org %q hook %q type %q: use another checkpoint file",
			cp.Org, cp.HookID, cp.Type, o.Org, o.HookID, o.Type)
	}
	return nil
}

// FileCheckpoint keeps a Checkpoint in a JSON file, replaced atomically.
type FileCheckpoint = JSONFile[Checkpoint]

// JSONFile keeps one value of T in a JSON file at Path, replaced atomically (temporary file,
// sync, rename), so a run killed while saving leaves the previous value readable. It serves as a
// CheckpointStore for any checkpoint type.
type JSONFile[T any] struct {
	Path string
}

// Load reads the file; ok is false when it does not exist.
func (f JSONFile[T]) Load(context.Context) (v T, ok bool, err error) {
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("checkpoint: %w", err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, false, fmt.Errorf("checkpoint %s: %w", f.Path, err)
	}
	return v, true, nil
}

// Save writes v atomically (WriteFileAtomic).
func (f JSONFile[T]) Save(_ context.Context, v T) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := WriteFileAtomic(f.Path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// WriteFileAtomic replaces path with data: a temporary file in the same directory is written,
// synced and renamed over path, so readers see the old or the new content, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
