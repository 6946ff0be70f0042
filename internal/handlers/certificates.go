package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

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

// Paging limits of every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
	maxTextParam    = 256
	maxDays         = 36500
)

// ListResponse is the answer of every list: {"items":[...],"page":1,"pageSize":50,"total":N,"pages":P}.
type ListResponse[T any] struct {
	Items    []T `json:"items"`
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
	Total    int `json:"total"`
	Pages    int `json:"pages"`
}

// RegisterInventoryAPI adds the inventory read API to g, which is meant to be /api/v1 guarded by
// BearerToken: GET /certificates, /certificates/:sha256, /ct-entries, /findings and /report. now is
// the clock of expiresWithinDays and the report. A bad parameter answers 400 naming it.
func RegisterInventoryAPI(g *echo.Group, store CertificateStore, now func() time.Time) {
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

func (a inventoryAPI) listCertificates(c echo.Context) error {
	p := params{c: c}
	q := inventory.CertificateQuery{
		Q: p.text("q"), Host: p.text("host"), Issuer: p.text("issuer"), Precert: p.boolean("precert"),
		Ownership:         p.oneOf("ownership", inventory.OwnershipOwn, inventory.OwnershipThirdParty, inventory.OwnershipUnknown),
		ExpiresWithinDays: p.days("expiresWithinDays"),
		Finding:           p.oneOf("finding", findingTypes()...),
		Sort:              p.sort(inventory.CertificateSortKeys()),
		Now:               a.now(),
	}
	q.Page, q.PageSize = p.paging()
	if p.err != nil {
		return p.err
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
		return ParamError("sha256", "must be 64 hex digits")
	}
	d, err := a.store.Certificate(c.Request().Context(), sha)
	if errors.Is(err, inventory.ErrNotFound) {
		return Error(http.StatusNotFound, "certificate not found")
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
	p := params{c: c}
	q := inventory.FindingQuery{Type: p.oneOf("type", findingTypes()...), SHA256: p.sha256("sha256")}
	q.Page, q.PageSize = p.paging()
	if p.err != nil {
		return p.err
	}
	page, err := a.store.ListFindings(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse(page, q.Page, q.PageSize))
}

func findingTypes() []string {
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

func listResponse[T any](p inventory.Page[T], page, size int) ListResponse[T] {
	items := p.Items
	if items == nil {
		items = []T{}
	}
	return ListResponse[T]{Items: items, Page: page, PageSize: size, Total: p.Total, Pages: (p.Total + size - 1) / size}
}

// params reads query parameters, keeping the first error (a 400 naming the parameter).
type params struct {
	c   echo.Context
	err error
}

func (p *params) fail(name, msg string) {
	if p.err == nil {
		p.err = ParamError(name, msg)
	}
}

func (p *params) text(name string) string {
	v := strings.TrimSpace(p.c.QueryParam(name))
	if len(v) > maxTextParam {
		p.fail(name, "longer than 256 bytes")
		return ""
	}
	return v
}

func (p *params) integer(name string, def, lo, hi int) int {
	v := p.c.QueryParam(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, "must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return def
	}
	return n
}

func (p *params) paging() (page, size int) {
	return p.integer("page", 1, 1, 1<<30), p.integer("pageSize", DefaultPageSize, 1, MaxPageSize)
}

func (p *params) days(name string) *int {
	if p.c.QueryParam(name) == "" {
		return nil
	}
	n := p.integer(name, 0, 0, maxDays)
	return &n
}

func (p *params) boolean(name string) *bool {
	switch p.c.QueryParam(name) {
	case "":
		return nil
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	default:
		p.fail(name, "must be true or false")
		return nil
	}
}

func (p *params) oneOf(name string, allowed ...string) string {
	v := p.c.QueryParam(name)
	if v != "" && !slices.Contains(allowed, v) {
		p.fail(name, "must be one of "+strings.Join(allowed, ", "))
		return ""
	}
	return v
}

func (p *params) sha256(name string) string {
	v := p.c.QueryParam(name)
	if v != "" && !isSHA256(v) {
		p.fail(name, "must be 64 hex digits")
		return ""
	}
	return strings.ToLower(v)
}

// sort reads "key" (ascending) or "-key" (descending).
func (p *params) sort(keys []string) inventory.Sort {
	v := p.c.QueryParam("sort")
	if v == "" {
		return inventory.Sort{}
	}
	s := inventory.Sort{Key: strings.TrimPrefix(v, "-"), Desc: strings.HasPrefix(v, "-")}
	if !slices.Contains(keys, s.Key) {
		p.fail("sort", "unknown sort key "+strconv.Quote(s.Key)+"; use one of "+strings.Join(keys, ", ")+", with - for descending")
		return inventory.Sort{}
	}
	return s
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
