// Package handlers holds hzhook's echo HTTP handlers: webhook intake, health and readiness, and the
// admin API. Errors become HTTP answers in one place, ErrorHandler, in Hardenize's ErrorResponse shape.
package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// ErrorResponse is Hardenize's error body: {"errors":[{"message":"..."}]}.
type ErrorResponse struct {
	Errors []ErrorMessage `json:"errors"`
}

// ErrorMessage is one error, optionally attributed to a request parameter.
type ErrorMessage struct {
	Param   string `json:"param,omitempty"`
	Message string `json:"message"`
}

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
				"method", c.Request().Method, "path", c.Path(), "request_id", requestID(c))
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(code)
			return
		}
		_ = c.JSON(code, ErrorResponse{Errors: []ErrorMessage{{Message: msg}}})
	}
}

// Error returns an *echo.HTTPError with a message for the ErrorResponse body.
func Error(code int, msg string) *echo.HTTPError { return echo.NewHTTPError(code, msg) }

// ParamError is a 400 naming the offending request parameter.
func ParamError(param, msg string) *echo.HTTPError {
	return echo.NewHTTPError(http.StatusBadRequest, param+": "+msg)
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
