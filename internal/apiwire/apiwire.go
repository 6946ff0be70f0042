package apiwire

// ErrorResponse is Hardenize's error body: {"errors":[{"message":"..."}]}.
type ErrorResponse struct {
	Errors []ErrorMessage `json:"errors"`
}

// ErrorMessage is one error, optionally attributed to a request parameter.
type ErrorMessage struct {
	Param   string `json:"param,omitempty"`
	Message string `json:"message"`
}

// Paging limits of every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// List is the answer of every list: {"items":[...],"page":1,"pageSize":50,"total":N,"pages":P}.
type List[T any] struct {
	Items    []T `json:"items"`
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
	Total    int `json:"total"`
	Pages    int `json:"pages"`
}

// NewList is page page (from 1) of size items out of total; items is never encoded as null.
func NewList[T any](items []T, total, page, size int) List[T] {
	if items == nil {
		items = []T{}
	}
	size = max(size, 1)
	return List[T]{Items: items, Page: page, PageSize: size, Total: total, Pages: (total + size - 1) / size}
}
