package console

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

type loginData struct {
	Next     string
	Error    string
	Disabled bool // no admin token configured
}

func (con *Console) loginPage(c echo.Context) error {
	next := c.QueryParam("next")
	if !localPath(next) {
		next = "/ui/"
	}
	if ck, err := c.Request().Cookie(sessionCookie); err == nil {
		if _, err := con.keys.parseCookie(ck.Value, con.now()); err == nil {
			return c.Redirect(http.StatusSeeOther, next)
		}
	}
	return con.render(c, http.StatusOK, "login", "Log in", "", loginData{Next: next, Disabled: !con.keys.enabled})
}

// loginSubmit checks the admin token of the login form (from a console page only) and starts a
// session. Failures are counted per client address: after a few, that address waits a minute.
func (con *Console) loginSubmit(c echo.Context) error {
	next := c.FormValue("next")
	if !localPath(next) {
		next = "/ui/"
	}
	data := loginData{Next: next, Disabled: !con.keys.enabled}
	if !con.sameOrigin(c.Request()) {
		return echo.NewHTTPError(http.StatusForbidden, "request from another site refused (Origin)")
	}
	addr := con.clientAddr(c.Request())
	if wait := con.login.blocked(addr); wait > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		data.Error = "Too many failed attempts: wait a minute and try again."
		return con.render(c, http.StatusTooManyRequests, "login", "Log in", "", data)
	}
	if !con.keys.tokenOK(c.FormValue("token")) {
		con.login.failed(addr)
		con.log.WarnContext(c.Request().Context(), "console login failed", "addr", addr)
		data.Error = "That is not the admin token."
		if data.Disabled {
			data.Error = "The console is closed: the worker has no HZ_ADMIN_TOKEN."
		}
		return con.render(c, http.StatusUnauthorized, "login", "Log in", "", data)
	}
	con.login.succeeded(addr)
	s, err := newSession(con.now(), con.opts.SessionTTL)
	if err != nil {
		return err
	}
	con.setCookie(c, sessionCookie, con.keys.cookieValue(s), int(con.opts.SessionTTL.Seconds()))
	con.log.InfoContext(c.Request().Context(), "console login", "addr", addr)
	return c.Redirect(http.StatusSeeOther, next)
}

// logout ends the browser's session (the cookie is deleted; it would expire by itself).
func (con *Console) logout(c echo.Context) error {
	con.setCookie(c, sessionCookie, "", -1)
	return c.Redirect(http.StatusSeeOther, "/ui/login")
}
