package adminapi

import (
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/lint"
)

// Bounds of query parameters.
const (
	maxTextParam = 256
	maxDays      = 36500
)

// params reads query parameters, keeping the first error (a 400 naming the parameter).
type params struct {
	c   echo.Context
	err error
}

func (p *params) fail(name, msg string) {
	if p.err == nil {
		p.err = handlers.ParamError(name, msg)
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

// paging reads page (from 1) and pageSize (default and maximum from apiwire).
func (p *params) paging() (page, size int) {
	return p.integer("page", 1, 1, 1<<30), p.integer("pageSize", apiwire.DefaultPageSize, 1, apiwire.MaxPageSize)
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

// lint reads the name of one of zlint's certificate lints.
func (p *params) lint(name string) string {
	v := p.c.QueryParam(name)
	if v != "" && lint.KnownLint(v) != nil {
		p.fail(name, "unknown lint "+strconv.Quote(v)+": use a zlint lint name, e.g. e_rsa_mod_less_than_2048_bits")
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
