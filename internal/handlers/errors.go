package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
)

// ErrorHandler is the echo HTTPErrorHandler: every error leaves as an ErrorResponse with the
// status of its *echo.HTTPError (500 for anything else, logged once here, its text not shown).
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code := http.StatusInternalServerError
		msg := "internal error"
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = he.Code
			if m, ok := he.Message.(string); ok {
				msg = m
			} else {
				msg = http.StatusText(code)
			}
		} else {
			log.ErrorContext(c.Request().Context(), "request failed", "err", err,
				"method", c.Request().Method, "path", c.Path(), "request_id", RequestID(c))
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(code)
			return
		}
		_ = c.JSON(code, apiwire.ErrorResponse{Errors: []apiwire.ErrorMessage{{Message: msg}}})
	}
}

// Error returns an *echo.HTTPError with a message for the ErrorResponse body.
func Error(code int, msg string) *echo.HTTPError { return echo.NewHTTPError(code, msg) }

// ParamError is a 400 naming the offending request parameter.
func ParamError(param, msg string) *echo.HTTPError {
	return echo.NewHTTPError(http.StatusBadRequest, param+": "+msg)
}

// RequestID is the X-Request-ID of the answer ("" on listeners without the request-id middleware).
func RequestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
