package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/authz"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
)

// Authorizer is what the authorization routes need (*authz.Source).
type Authorizer interface {
	Authorize(ctx context.Context, spec rules.AuthorizationSpec, author string) (authz.Result, error)
	List(ctx context.Context) ([]inventory.AuthorizationRow, error)
}

// RegisterAuthorizations adds the routes of the authorizations stored in the inventory to g (the
// bearer-token guarded /api/v1 group):
//
//	GET  /authorizations   every stored authorization, oldest first (the rules file's are not listed)
//	POST /authorizations   store one (apiwire.AuthorizationRequest): 201 when added, 200 when it was
//	                       stored before; an invalid one is a 400 saying why
func RegisterAuthorizations(g *echo.Group, a Authorizer) {
	h := authorizationRoutes{a: a}
	g.GET("/authorizations", h.list)
	g.POST("/authorizations", h.create)
}

type authorizationRoutes struct{ a Authorizer }

// maxAuthorizationBody bounds the request body: a note and a list of names.
const maxAuthorizationBody = 64 << 10

func (h authorizationRoutes) create(c echo.Context) error {
	var req apiwire.AuthorizationRequest
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, maxAuthorizationBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return handlers.Error(http.StatusBadRequest, "body: not an authorization: "+err.Error())
	}
	if req.Author == "" {
		req.Author = "api"
	}
	res, err := h.a.Authorize(c.Request().Context(), rules.AuthorizationSpec{
		TBSSHA256: req.TBSSHA256, SPKISHA256: req.SPKISHA256, Names: req.Names, Note: req.Note,
	}, req.Author)
	if errors.Is(err, authz.ErrInvalid) {
		return handlers.Error(http.StatusBadRequest, err.Error())
	}
	if err != nil {
		return err
	}
	code := http.StatusOK
	if res.Added {
		code = http.StatusCreated
	}
	return c.JSON(code, apiwire.AuthorizationResult{Authorization: AuthorizationWire(res.Authorization), Added: res.Added, Findings: res.Findings})
}

func (h authorizationRoutes) list(c echo.Context) error {
	rows, err := h.a.List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiwire.Authorization, len(rows))
	for i, r := range rows {
		out[i] = AuthorizationWire(r)
	}
	return c.JSON(http.StatusOK, apiwire.NewList(out, len(out), 1, max(len(out), 1)))
}

// AuthorizationWire is the API form of a stored authorization.
func AuthorizationWire(r inventory.AuthorizationRow) apiwire.Authorization {
	return apiwire.Authorization{ID: r.ID, TBSSHA256: r.TBSSHA256, SPKISHA256: r.SPKISHA256, Names: r.Names, Note: r.Note,
		Author: r.Author, CreatedAt: r.CreatedAt}
}
