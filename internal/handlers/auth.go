package handlers

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// BearerToken guards a route group with "Authorization: Bearer <token>". The comparison is constant
// time (over SHA-256 digests, so the token's length does not leak either). An empty token refuses
// every request: an admin API without a configured token is closed, not open.
func BearerToken(token string) echo.MiddlewareFunc {
	want := sha256.Sum256([]byte(token))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if token == "" {
				return Error(http.StatusUnauthorized, "admin API disabled: set HZ_ADMIN_TOKEN to enable it")
			}
			got, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="hzhook"`)
				return Error(http.StatusUnauthorized, "missing or wrong bearer token")
			}
			return next(c)
		}
	}
}
