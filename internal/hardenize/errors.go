package hardenize

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ErrorMessage is one entry of Hardenize's ErrorResponse; Param names the request parameter it is
// about, if any.
type ErrorMessage struct {
	Param   string `json:"param,omitempty"`
	Message string `json:"message"`
}

// APIError is a non-2xx answer of the API, with the messages of its ErrorResponse body.
type APIError struct {
	StatusCode int
	Errors     []ErrorMessage
	// Allowance is the X-Request-Allowance header ("r: 57/60 (+1/1s); c: 1/5"), useful after a 429.
	Allowance string
}

// Error reads like "hardenize api: 400 Bad Request: destination: must be an HTTPS URL".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hardenize api: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	for i, m := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if m.Param != "" {
			b.WriteString(m.Param + ": ")
		}
		b.WriteString(m.Message)
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		b.WriteString(" (check the api user and password)")
	case http.StatusTooManyRequests:
		if e.Allowance != "" {
			b.WriteString(" (allowance " + e.Allowance + ")")
		}
	}
	return b.String()
}

// IsNotFound reports whether err is the API's 404 answer.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

func newAPIError(code int, h http.Header, body io.Reader) *APIError {
	e := &APIError{StatusCode: code, Allowance: h.Get("X-Request-Allowance")}
	data, _ := io.ReadAll(body)
	var r struct {
		Errors []ErrorMessage `json:"errors"`
	}
	if json.Unmarshal(data, &r) == nil {
		for _, m := range r.Errors {
			if m.Message != "" || m.Param != "" {
				e.Errors = append(e.Errors, m)
			}
		}
	}
	return e
}
