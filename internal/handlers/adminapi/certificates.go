package adminapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
)

// CertificateStore is what the inventory read API needs of the store.
type CertificateStore interface {
	ListCertificates(ctx context.Context, q inventory.CertificateQuery) (inventory.Page[inventory.Certificate], error)
	Certificate(ctx context.Context, sha256 string) (inventory.CertificateDetail, error)
	ListCTEntries(ctx context.Context, q inventory.CTEntryQuery) (inventory.Page[inventory.CTEntry], error)
	Report(ctx context.Context, now time.Time) (inventory.Report, error)
	ListFindings(ctx context.Context, q inventory.FindingQuery) (inventory.Page[inventory.Finding], error)
}

// RegisterInventory adds the inventory read API to g, which is meant to be /api/v1 guarded by
// handlers.BearerToken: GET /certificates, /certificates/:sha256, /ct-entries, /findings and
// /report. now is the clock of expiresWithinDays and the report. A bad parameter answers 400
// naming it.
func RegisterInventory(g *echo.Group, store CertificateStore, now func() time.Time) {
	a := inventoryAPI{store: store, now: now}
	g.GET("/certificates", a.listCertificates)
	g.GET("/certificates/:sha256", a.certificate)
	g.GET("/ct-entries", a.listCTEntries)
	g.GET("/findings", a.listFindings)
	g.GET("/report", a.report)
}

type inventoryAPI struct {
	store CertificateStore
	now   func() time.Time
}

// CertificateQuery reads the query parameters of GET /certificates from c: the filters, sort and
// paging, with now as the clock of expiresWithinDays. A bad parameter is a 400 naming it. The
// console reads its certificate filters through it too, so the two never disagree.
func CertificateQuery(c echo.Context, now time.Time) (inventory.CertificateQuery, error) {
	p := params{c: c}
	q := inventory.CertificateQuery{
		Q: p.text("q"), Host: p.text("host"), Issuer: p.text("issuer"), Precert: p.boolean("precert"),
		Ownership:         p.oneOf("ownership", inventory.OwnershipOwn, inventory.OwnershipThirdParty, inventory.OwnershipUnknown),
		ExpiresWithinDays: p.days("expiresWithinDays"),
		Finding:           p.oneOf("finding", FindingTypes()...),
		Sort:              p.sort(inventory.CertificateSortKeys()),
		Now:               now,
		Lint:              p.lint("lint"),
		LintStatus:        p.oneOf("lintStatus", inventory.LintStatuses()...),
	}
	q.Page, q.PageSize = p.paging()
	return q, p.err
}

func (a inventoryAPI) listCertificates(c echo.Context) error {
	q, err := CertificateQuery(c, a.now())
	if err != nil {
		return err
	}
	page, err := a.store.ListCertificates(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse(page, q.Page, q.PageSize))
}

func (a inventoryAPI) certificate(c echo.Context) error {
	sha := c.Param("sha256")
	if !isSHA256(sha) {
		return handlers.ParamError("sha256", "must be 64 hex digits")
	}
	d, err := a.store.Certificate(c.Request().Context(), sha)
	if errors.Is(err, inventory.ErrNotFound) {
		return handlers.Error(http.StatusNotFound, "certificate not found")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (a inventoryAPI) listCTEntries(c echo.Context) error {
	p := params{c: c}
	q := inventory.CTEntryQuery{SHA256: p.sha256("sha256"), Log: p.text("log"), Host: p.text("host"),
		Sort: p.sort(inventory.CTEntrySortKeys())}
	q.Page, q.PageSize = p.paging()
	if p.err != nil {
		return p.err
	}
	page, err := a.store.ListCTEntries(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse(page, q.Page, q.PageSize))
}

// listFindings answers GET /findings: newest first, filtered by type and by the sha256 of a
// certificate or precertificate (the findings of its issuance).
func (a inventoryAPI) listFindings(c echo.Context) error {
	q, err := FindingQuery(c)
	if err != nil {
		return err
	}
	page, err := a.store.ListFindings(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse(page, q.Page, q.PageSize))
}

// FindingQuery reads the query parameters of GET /findings from c (type, sha256, paging); a bad
// parameter is a 400 naming it.
func FindingQuery(c echo.Context) (inventory.FindingQuery, error) {
	p := params{c: c}
	q := inventory.FindingQuery{Type: p.oneOf("type", FindingTypes()...), SHA256: p.sha256("sha256")}
	q.Page, q.PageSize = p.paging()
	return q, p.err
}

// FindingTypes are the values of the finding and type parameters: every rules.Type.
func FindingTypes() []string {
	out := make([]string, 0, len(rules.Types()))
	for _, t := range rules.Types() {
		out = append(out, string(t))
	}
	return out
}

func (a inventoryAPI) report(c echo.Context) error {
	r, err := a.store.Report(c.Request().Context(), a.now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func listResponse[T any](p inventory.Page[T], page, size int) apiwire.List[T] {
	return apiwire.NewList(p.Items, p.Total, page, size)
}
