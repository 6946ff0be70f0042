package handlers

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is usable; a non-nil error names what is wrong.
type Check func() error

// NewAdminServer returns the echo instance of an admin listener: /healthz (the process serves),
// /readyz (every check passes) and /metrics (the registry gatherer). Callers add their own routes.
func NewAdminServer(gatherer prometheus.Gatherer, reg prometheus.Registerer, log *slog.Logger, ready ...Check) *echo.Echo {
	e, _ := NewEcho("admin", log, reg)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", func(c echo.Context) error {
		for _, check := range ready {
			if err := check(); err != nil {
				return Error(http.StatusServiceUnavailable, "not ready: "+err.Error())
			}
		}
		return c.String(http.StatusOK, "ok\n")
	})
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{Registry: reg})))
	return e
}
