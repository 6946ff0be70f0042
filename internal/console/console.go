package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/inventory"
)

// Inventory is what the console reads of the inventory (*inventory.Store): the read API's
// queries, and the overview's small ones.
type Inventory interface {
	adminapi.CertificateStore
	Certificates(ctx context.Context, sha256s []string) (map[string]inventory.Certificate, error)
	Feeds(ctx context.Context, types, sources []string) ([]inventory.FeedStat, error)
	FindingCounts(ctx context.Context, since time.Time) ([]inventory.Count, error)
	SuppressedFindings(ctx context.Context, since time.Time) (int, error)
	ExpiringCounts(ctx context.Context, now time.Time) ([]inventory.ExpiringCount, error)
	IssuancesPerDay(ctx context.Context, now time.Time, days int) ([]inventory.DayCount, error)
	CountCertificates(ctx context.Context) (int, error)
	CertSyncRuns(ctx context.Context, limit int) ([]inventory.CertSyncRun, error)
}

// DLQ is what the dead-letter pages need (*dlq.Store): the admin API's operations and the counts
// by stage.
type DLQ interface {
	adminapi.DLQ
	Stages(ctx context.Context) (map[string]uint64, error)
}

// Lag is the backlog of one durable consumer.
type Lag struct {
	Stream, Consumer string
	Pending          uint64 // not yet delivered
	AckPending       int    // delivered, not yet acknowledged (including backoffs)
	Redelivered      int
	LastActive       *time.Time // last delivery, nil when none yet
}

// Consumers reports the lag of the worker groups' and alert sinks' durable consumers.
type Consumers interface {
	ConsumerLag(ctx context.Context) ([]Lag, error)
}

// Deps are the stores the console renders from.
type Deps struct {
	Inventory  Inventory
	DLQ        DLQ
	Authorizer adminapi.Authorizer
	Consumers  Consumers
}

// Options configure a Console.
type Options struct {
	// Token is the admin token (HZ_ADMIN_TOKEN): the login password and the root of the session
	// and CSRF keys. Empty: nobody can log in.
	Token string
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-Proto, -Host and -For are believed.
	TrustedProxies []netip.Prefix
	// SilentAfter is how long without an event makes a feed a problem (default 24h, as the
	// HzhookSilentFeed alert).
	SilentAfter time.Duration
	// Types are the event types the worker group consumes: feeds expected on the overview.
	Types []string
	// Findings is false when the worker has no rules file (no findings are made).
	Findings bool
	// CertSyncEvery is the worker's --cert-sync-every (0: this worker does not sync certificates
	// with the Hardenize API; another replica may).
	CertSyncEvery time.Duration

	Log *slog.Logger
	Now func() time.Time
}

// Console serves the pages under /ui/.
type Console struct {
	d     Deps
	opts  Options
	keys  keys
	log   *slog.Logger
	now   func() time.Time
	views *views
	login *loginLimiter
}

// Register adds the console to e under /ui/ (and a redirect from /ui). Every route but the login
// page and the stylesheet needs a session or the bearer token.
func Register(e *echo.Echo, d Deps, o Options) (*Console, error) {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.SilentAfter <= 0 {
		o.SilentAfter = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	k, err := newKeys(o.Token)
	if err != nil {
		return nil, err
	}
	v, err := loadViews()
	if err != nil {
		return nil, err
	}
	con := &Console{d: d, opts: o, keys: k, log: o.Log, now: o.Now, views: v, login: newLoginLimiter(o.Now)}

	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
	g := e.Group("/ui", securityHeaders, limitBody)
	g.GET("/static/*", con.static)
	g.GET("/login", con.handle(con.loginPage))
	g.POST("/login", con.handle(con.loginSubmit))

	a := g.Group("", con.authenticate)
	a.POST("/logout", con.handle(con.logout), con.checkCSRF)
	con.routes(a)
	a.Any("/*", con.handle(func(echo.Context) error { return echo.NewHTTPError(http.StatusNotFound, "no such page") }))
	return con, nil
}

// routes adds every page: one file per page or route group.
func (con *Console) routes(g *echo.Group) {
	post := func(path string, h func(echo.Context) error) { g.POST(path, con.handle(h), con.checkCSRF) }
	get := func(path string, h func(echo.Context) error) { g.GET(path, con.handle(h)) }

	get("/", con.overview)
	get("/certificates", con.certificates)
	get("/certificates.csv", con.exportCSV)
	get("/certificates.json", con.exportJSON)
	get("/certificates/:sha256", con.certificate)
	get("/certificates/:sha256/pem", con.certificatePEM)
	get("/findings", con.findings)
	get("/findings/authorize", con.authorizeConfirm)
	post("/findings/authorize", con.authorizeSubmit)
	get("/dlq", con.deadLetters)
	get("/dlq/redrive", con.dlqConfirm(dlqRedrive))
	post("/dlq/redrive", con.dlqBulk(dlqRedrive))
	get("/dlq/purge", con.dlqConfirm(dlqPurge))
	post("/dlq/purge", con.dlqBulk(dlqPurge))
	get("/dlq/:seq", con.deadLetter)
	get("/dlq/:seq/body", con.deadLetterBody)
	get("/dlq/:seq/redrive", con.dlqConfirmOne(dlqRedrive))
	post("/dlq/:seq/redrive", con.dlqOne(dlqRedrive))
	get("/dlq/:seq/purge", con.dlqConfirmOne(dlqPurge))
	post("/dlq/:seq/purge", con.dlqOne(dlqPurge))
	get("/report", con.report)
}

// maxFormBytes bounds a POST body: a note, names, a token.
const maxFormBytes = 64 << 10

func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Body != nil {
			c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxFormBytes)
		}
		return next(c)
	}
}

const sessionKey = "console.session"

// authenticate lets a request through with a valid session cookie or the bearer token (a single
// sign-on proxy); a GET without either is sent to the login page, anything else refused.
func (con *Console) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if h := r.Header.Get(echo.HeaderAuthorization); h != "" {
			if got, ok := strings.CutPrefix(h, "Bearer "); ok && con.keys.tokenOK(got) {
				c.Set(sessionKey, session{id: bearerSession})
				return next(c)
			}
			return con.renderError(c, echo.NewHTTPError(http.StatusUnauthorized, "wrong bearer token"))
		}
		if ck, err := r.Cookie(sessionCookie); err == nil {
			if s, err := con.keys.parseCookie(ck.Value, con.now()); err == nil {
				c.Set(sessionKey, s)
				return next(c)
			}
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return c.Redirect(http.StatusSeeOther, "/ui/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode())
		}
		return con.renderError(c, echo.NewHTTPError(http.StatusUnauthorized, "log in first"))
	}
}

func sessionOf(c echo.Context) session {
	s, _ := c.Get(sessionKey).(session)
	return s
}

// checkCSRF refuses a POST that does not come from a console page of this session: the Origin
// (or Referer) must be the console's, and the form must carry the session's CSRF token.
func (con *Console) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !con.sameOrigin(c.Request()) {
			return con.renderError(c, echo.NewHTTPError(http.StatusForbidden, "request from another site refused (Origin)"))
		}
		if !con.keys.csrfOK(sessionOf(c), c.FormValue(csrfField)) {
			return con.renderError(c, echo.NewHTTPError(http.StatusForbidden, "stale or missing form token: reload the page and try again"))
		}
		return next(c)
	}
}

// handle turns a page's error into an HTML error page: an *echo.HTTPError keeps its status and
// message (a bad parameter is the API's 400 with the API's words); anything else is logged once
// and shown as a 500 without its text.
func (con *Console) handle(h func(echo.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := h(c)
		if err == nil || c.Response().Committed {
			if err != nil {
				con.log.ErrorContext(c.Request().Context(), "console answer failed", "path", c.Path(), "err", err)
			}
			return nil
		}
		return con.renderError(c, err)
	}
}

func (con *Console) renderError(c echo.Context, err error) error {
	var he *echo.HTTPError
	code, msg := http.StatusInternalServerError, "internal error: the worker log has the details"
	switch {
	case errors.As(err, &he):
		code = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(code)
		}
	case errors.Is(err, context.Canceled):
		return nil
	default:
		con.log.ErrorContext(c.Request().Context(), "console request failed", "path", c.Path(), "err", err)
	}
	return con.render(c, code, "error", http.StatusText(code), "", errorData{Code: code, Message: msg})
}

type errorData struct {
	Code    int
	Message string
}

// dlqError maps the dead-letter store's errors as the API does (a redrive's refusals are shown
// as a problem on the letter's page before they get here: see redriveRefused).
func dlqError(err error) error {
	var rej *dlq.RejectedError
	switch {
	case errors.Is(err, dlq.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	case errors.Is(err, dlq.ErrNoFilter):
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	case errors.As(err, &rej), errors.Is(err, dlq.ErrNotVerifiable):
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	case errors.Is(err, dlq.ErrVerifierUnavailable):
		return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
	}
	return err
}

// list is one page of a list with its paging, as the API answers it.
func list[T any](p inventory.Page[T], page, size int) apiwire.List[T] {
	return apiwire.NewList(p.Items, p.Total, page, size)
}
