package adminapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/inventory"
)

// CertSyncStore is what the certificate sync's read API needs of the store.
type CertSyncStore interface {
	CertSyncRuns(ctx context.Context, limit int) ([]inventory.CertSyncRun, error)
}

// RegisterCertSync adds GET /cert-sync/runs to g (/api/v1 behind the bearer token): the newest
// runs of the worker's certificate sync, newest first, as {"items": [...]}; limit (1 to 200,
// default 20) says how many.
func RegisterCertSync(g *echo.Group, store CertSyncStore) {
	g.GET("/cert-sync/runs", func(c echo.Context) error {
		p := params{c: c}
		limit := p.integer("limit", 20, 1, 200)
		if p.err != nil {
			return p.err
		}
		runs, err := store.CertSyncRuns(c.Request().Context(), limit)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"items": runs})
	})
}
