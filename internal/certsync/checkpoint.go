package certsync

import (
	"context"
	"fmt"
	"time"

	"github.com/hzhook/hzhook/internal/backfill"
	"github.com/hzhook/hzhook/internal/hardenize"
)

// Checkpoint is the saved position of a run: the listing's cursor after the last page whose
// certificates are all stored, and the counts so far.
type Checkpoint struct {
	Org     string               `json:"org"`
	Limit   int                  `json:"limit,omitempty"`
	Alerts  bool                 `json:"alerts"`
	Cursor  hardenize.CertCursor `json:"cursor"`
	Stats   Stats                `json:"stats"`
	Updated time.Time            `json:"updated"`
}

// CheckpointStore loads and saves a Checkpoint. Save replaces the previous one atomically.
type CheckpointStore interface {
	Load(ctx context.Context) (cp Checkpoint, ok bool, err error)
	Save(ctx context.Context, cp Checkpoint) error
}

// matches refuses a checkpoint of another organization, limit or alert choice: resuming from it
// would mix two different imports.
func (cp Checkpoint) matches(o Options) error {
	if cp.Org != o.Org || cp.Limit != o.Limit || cp.Alerts != o.Alerts {
		return fmt.Errorf("checkpoint is for org %q, limit %d, alerts %t, not org %q, limit %d, alerts %t: use another checkpoint file",
			cp.Org, cp.Limit, cp.Alerts, o.Org, o.Limit, o.Alerts)
	}
	return nil
}

// FileCheckpoint keeps a Checkpoint in a JSON file, replaced atomically.
type FileCheckpoint = backfill.JSONFile[Checkpoint]
