package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
)

func TestBearerToken(t *testing.T) {
	newAdmin := func(token string) *echo.Echo {
		reg := prometheus.NewRegistry()
		e := NewAdminServer(reg, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		e.Group("/api/v1", BearerToken(token)).GET("/thing", func(c echo.Context) error { return c.String(200, "secret stuff") })
		return e
	}
	tests := []struct {
		name, token, path, auth string
		want                    int
	}{
		{"right token", "s3cret-token", "/api/v1/thing", "Bearer s3cret-token", 200},
		{"wrong token", "s3cret-token", "/api/v1/thing", "Bearer s3cret-tokeN", 401},
		{"prefix of token", "s3cret-token", "/api/v1/thing", "Bearer s3cret", 401},
		{"no header", "s3cret-token", "/api/v1/thing", "", 401},
		{"basic scheme", "s3cret-token", "/api/v1/thing", "Basic s3cret-token", 401},
		{"no token configured", "", "/api/v1/thing", "Bearer ", 401},
		{"health needs no token", "", "/healthz", "", 200},
		{"metrics need no token", "", "/metrics", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			newAdmin(tc.token).ServeHTTP(rec, req)
			assert.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == 401 {
				assert.Contains(t, rec.Body.String(), `{"errors":[{"message":`)
				assert.NotContains(t, rec.Body.String(), "s3cret")
			}
		})
	}
}
