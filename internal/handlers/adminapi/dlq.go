package adminapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/handlers"
)

// DLQ is what the dead-letter routes need (*dlq.Store).
type DLQ interface {
	List(ctx context.Context, f dlq.Filter, page, pageSize int) (apiwire.List[apiwire.DLQLetter], error)
	Get(ctx context.Context, seq uint64) (dlq.Letter, error)
	Redrive(ctx context.Context, seq uint64) (apiwire.DLQRedriven, error)
	RedriveMatching(ctx context.Context, f dlq.Filter, all bool) (apiwire.DLQBulk, error)
	Purge(ctx context.Context, seq uint64) error
	PurgeMatching(ctx context.Context, f dlq.Filter, all bool) (apiwire.DLQBulk, error)
}

// RegisterDLQ adds the dead-letter routes to g (the bearer-token guarded /api/v1 group):
//
//	GET    /dlq                 list: class, reason, type, stage, handler, consumer, page, pageSize
//	GET    /dlq/{seq}           one dead letter with headers and body
//	POST   /dlq/{seq}/redrive   send it back to the consumer that failed it (a rejected one
//	                            through the receiver's verification: 409 when it fails again)
//	DELETE /dlq/{seq}           purge it (204)
//	POST   /dlq/redrive         redrive every match of the filter (or all=true)
//	DELETE /dlq                 purge every match of the filter (or all=true)
func RegisterDLQ(g *echo.Group, d DLQ) {
	h := dlqRoutes{d: d}
	g.GET("/dlq", h.list)
	g.POST("/dlq/redrive", h.redriveMatching)
	g.DELETE("/dlq", h.purgeMatching)
	g.GET("/dlq/:seq", h.show)
	g.POST("/dlq/:seq/redrive", h.redrive)
	g.DELETE("/dlq/:seq", h.purge)
}

type dlqRoutes struct{ d DLQ }

// DLQQuery reads the query parameters of GET /dlq from c: the filter and the paging (a bad page or
// pageSize is a 400 naming it).
func DLQQuery(c echo.Context) (f dlq.Filter, page, size int, err error) {
	p := params{c: c}
	page, size = p.paging()
	return DLQFilter(c), page, size, p.err
}

func (h dlqRoutes) list(c echo.Context) error {
	f, page, size, err := DLQQuery(c)
	if err != nil {
		return err
	}
	l, err := h.d.List(c.Request().Context(), f, page, size)
	if err != nil {
		return dlqError(err)
	}
	return c.JSON(http.StatusOK, l)
}

func (h dlqRoutes) show(c echo.Context) error {
	seq, err := dlqSeqParam(c)
	if err != nil {
		return err
	}
	l, err := h.d.Get(c.Request().Context(), seq)
	if err != nil {
		return dlqError(err)
	}
	out := apiwire.DLQDetail{DLQLetter: l.DLQLetter, Headers: map[string][]string(l.Header)}
	if json.Valid(l.Data) {
		out.Data = l.Data
	} else if len(l.Data) > 0 {
		out.DataBase64 = base64.StdEncoding.EncodeToString(l.Data)
	}
	return c.JSON(http.StatusOK, out)
}

func (h dlqRoutes) redrive(c echo.Context) error {
	seq, err := dlqSeqParam(c)
	if err != nil {
		return err
	}
	r, err := h.d.Redrive(c.Request().Context(), seq)
	if err != nil {
		return dlqError(err)
	}
	return c.JSON(http.StatusOK, r)
}

func (h dlqRoutes) purge(c echo.Context) error {
	seq, err := dlqSeqParam(c)
	if err != nil {
		return err
	}
	if err := h.d.Purge(c.Request().Context(), seq); err != nil {
		return dlqError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (h dlqRoutes) redriveMatching(c echo.Context) error {
	b, err := h.d.RedriveMatching(c.Request().Context(), DLQFilter(c), c.QueryParam("all") == "true")
	if err != nil {
		return dlqError(err)
	}
	return c.JSON(http.StatusOK, b)
}

func (h dlqRoutes) purgeMatching(c echo.Context) error {
	b, err := h.d.PurgeMatching(c.Request().Context(), DLQFilter(c), c.QueryParam("all") == "true")
	if err != nil {
		return dlqError(err)
	}
	return c.JSON(http.StatusOK, b)
}

// DLQFilter reads the dead-letter filter (class, reason, type, stage, handler, consumer) from c's query.
func DLQFilter(c echo.Context) dlq.Filter {
	return dlq.Filter{
		Class: c.QueryParam("class"), Reason: c.QueryParam("reason"), Type: c.QueryParam("type"),
		Stage: c.QueryParam("stage"), Handler: c.QueryParam("handler"), Consumer: c.QueryParam("consumer"),
	}
}

// dlqError maps the dead-letter store's errors to answers; anything else is a logged 500.
func dlqError(err error) error {
	var rej *dlq.RejectedError
	switch {
	case errors.Is(err, dlq.ErrNotFound):
		return handlers.Error(http.StatusNotFound, err.Error())
	case errors.Is(err, dlq.ErrNoFilter):
		return handlers.Error(http.StatusBadRequest, err.Error()+" (all=true)")
	case errors.As(err, &rej), errors.Is(err, dlq.ErrNotVerifiable):
		return handlers.Error(http.StatusConflict, err.Error())
	case errors.Is(err, dlq.ErrVerifierUnavailable):
		return handlers.Error(http.StatusServiceUnavailable, err.Error())
	}
	return err
}

func dlqSeqParam(c echo.Context) (uint64, error) {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil || seq == 0 {
		return 0, handlers.ParamError("seq", "must be a positive integer")
	}
	return seq, nil
}
