package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const staticPrefix = "/ui/static/"

// views are the parsed pages: each page template with the layout and the shared partials.
type views struct {
	pages  map[string]*template.Template
	assets map[string]asset
}

type asset struct {
	body []byte
	etag string
	mime string
}

func loadViews() (*views, error) {
	v := &views{pages: map[string]*template.Template{}, assets: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		v.assets[name] = asset{body: b, etag: hex.EncodeToString(sum[:8]), mime: mime.TypeByExtension(path.Ext(p))}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	funcs := templateFuncs()
	funcs["static"] = func(name string) (string, error) {
		a, ok := v.assets[name]
		if !ok {
			return "", fmt.Errorf("no static asset %q", name)
		}
		return staticPrefix + name + "?v=" + a.etag, nil
	}
	base, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	entries, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	for _, p := range entries {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, p)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		v.pages[name] = t
	}
	return v, nil
}

// static serves the embedded stylesheet and icon; a versioned URL (?v=) never changes content.
func (con *Console) static(c echo.Context) error {
	a, ok := con.views.assets[c.Param("*")]
	if !ok {
		return con.renderError(c, echo.NewHTTPError(http.StatusNotFound, "no such file"))
	}
	h := c.Response().Header()
	h.Set("ETag", `"`+a.etag+`"`)
	h.Set("Cache-Control", "public, max-age=86400")
	if c.Request().Header.Get("If-None-Match") == `"`+a.etag+`"` {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, a.mime, a.body)
}

// page is what every page template gets: the layout's needs and the page's own Data.
type page struct {
	Title    string
	Nav      string // the active navigation entry
	CSRF     string
	Flash    flash
	LoggedIn bool
	SSO      bool // signed in by the proxy's bearer token: there is nothing to log out of
	Now      time.Time
	Data     any
}

// render executes page name into a buffer first, so a template error becomes a clean 500.
func (con *Console) render(c echo.Context, code int, name, title, nav string, data any) error {
	t, ok := con.views.pages[name]
	if !ok {
		return fmt.Errorf("no console page %q", name)
	}
	s, loggedIn := c.Get(sessionKey).(session)
	p := page{Title: title, Nav: nav, LoggedIn: loggedIn, SSO: loggedIn && s.bearer(), Now: con.now(), Data: data}
	if loggedIn {
		p.CSRF = con.keys.csrfToken(s)
	}
	if ck, err := c.Request().Cookie(flashCookie); err == nil {
		if f, ok := con.keys.parseFlash(ck.Value); ok {
			p.Flash = f
		}
		con.setCookie(c, flashCookie, "", -1)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		con.log.ErrorContext(c.Request().Context(), "console template failed", "page", name, "err", err)
		return c.HTMLBlob(http.StatusInternalServerError, []byte("<!doctype html><title>Error</title><p>internal error: the worker log has the details</p>"))
	}
	return c.HTMLBlob(code, buf.Bytes())
}

// redirectWithFlash answers a POST with a redirect to a page that shows msg once.
func (con *Console) redirectWithFlash(c echo.Context, to, msg string) error {
	return con.redirectFlash(c, to, flash{Msg: msg})
}

// redirectWithProblem answers a POST that could not do what was asked, for a reason the user can
// act on, with a redirect to a page that shows msg once as a problem.
func (con *Console) redirectWithProblem(c echo.Context, to, msg string) error {
	return con.redirectFlash(c, to, flash{Msg: msg, Problem: true})
}

func (con *Console) redirectFlash(c echo.Context, to string, f flash) error {
	con.setCookie(c, flashCookie, con.keys.flashValue(f), 60)
	return c.Redirect(http.StatusSeeOther, to)
}
