package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sessionCookieOf(t *testing.T, a answer) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: a.hdr}).Cookies() {
		if c.Name == "hz_session" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", a.hdr)
	return nil
}

// The console sends a visitor to the login page, starts a session with the admin token (an
// HttpOnly, SameSite=Strict cookie on /ui/ that lasts 12 hours), and ends it on logout, which is
// a POST with the session's CSRF token.
func TestLoginAndLogout(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	a := c.get("/ui/certificates?host=www.example.com")
	require.Equal(t, http.StatusSeeOther, a.code)
	assert.Equal(t, "/ui/login?next=%2Fui%2Fcertificates%3Fhost%3Dwww.example.com", a.hdr.Get("Location"))
	assert.Contains(t, c.get("/ui/login").body, `type="password"`)

	a = c.do(http.MethodPost, "/ui/login", url.Values{"token": {"wrong"}}, nil)
	assert.Equal(t, http.StatusUnauthorized, a.code)
	assert.Contains(t, a.body, "That is not the admin token.")

	a = c.do(http.MethodPost, "/ui/login", url.Values{"token": {token}, "next": {"/ui/certificates?host=www.example.com"}}, nil)
	require.Equal(t, http.StatusSeeOther, a.code)
	assert.Equal(t, "/ui/certificates?host=www.example.com", a.hdr.Get("Location"), "back where the visitor was going")
	ck := sessionCookieOf(t, a)
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	assert.Equal(t, "/ui/", ck.Path)
	assert.False(t, ck.Secure, "plain HTTP from an untrusted peer")
	assert.Equal(t, int((12 * time.Hour).Seconds()), ck.MaxAge)
	assert.Equal(t, http.StatusOK, c.get("/ui/").code)

	assert.Equal(t, http.StatusForbidden, c.do(http.MethodPost, "/ui/logout", url.Values{}, nil).code, "logout needs the CSRF token")
	a = c.post("/ui/", "/ui/logout", nil)
	require.Equal(t, http.StatusSeeOther, a.code)
	assert.Equal(t, -1, sessionCookieOf(t, a).MaxAge)
	assert.Equal(t, http.StatusSeeOther, c.get("/ui/").code)
}

func TestLoginRefusesOtherSitesAndForeignNextURLs(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/\\evil.example", "/api/v1/certificates"} {
		a := c.do(http.MethodPost, "/ui/login", url.Values{"token": {token}, "next": {next}}, nil)
		require.Equal(t, http.StatusSeeOther, a.code)
		assert.Equal(t, "/ui/", a.hdr.Get("Location"), next)
	}
	a := c.do(http.MethodPost, "/ui/login", url.Values{"token": {token}}, map[string]string{"Origin": "https://evil.example"})
	assert.Equal(t, http.StatusForbidden, a.code, "login CSRF")
}

// After five failed logins from one address within a minute, that address is refused, even with
// the right token, until the minute has passed.
func TestLoginFailuresAreRateLimited(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	for range 5 {
		assert.Equal(t, http.StatusUnauthorized, c.do(http.MethodPost, "/ui/login", url.Values{"token": {"guess"}}, nil).code)
	}
	a := c.do(http.MethodPost, "/ui/login", url.Values{"token": {token}}, nil)
	assert.Equal(t, http.StatusTooManyRequests, a.code)
	assert.NotEmpty(t, a.hdr.Get("Retry-After"))
	h.now = h.now.Add(61 * time.Second)
	assert.Equal(t, http.StatusSeeOther, c.do(http.MethodPost, "/ui/login", url.Values{"token": {token}}, nil).code)
}

// A session is only what the console signed, for as long as it said: a changed, expired or
// foreign cookie sends the browser back to the login page.
func TestSessionCookieIsSignedAndExpires(t *testing.T) {
	h := newHarness(t)
	c := h.client().login()
	u, _ := url.Parse(h.srv.URL + "/ui/")
	good := c.http.Jar.Cookies(u)[0].Value
	parts := strings.Split(good, ".")
	require.Len(t, parts, 4)
	for name, v := range map[string]string{
		"another id":       strings.Join([]string{parts[0], parts[1], "AAAA" + parts[2][4:], parts[3]}, "."),
		"a later expiry":   strings.Join([]string{parts[0], "99999999999", parts[2], parts[3]}, "."),
		"not signed":       "v1." + parts[1] + "." + parts[2] + ".",
		"the bearer label": "v1." + parts[1] + ".bearer." + parts[3],
	} {
		other := h.client()
		other.http.Jar.SetCookies(u, []*http.Cookie{{Name: "hz_session", Value: v, Path: "/ui/"}})
		assert.Equal(t, http.StatusSeeOther, other.get("/ui/").code, name)
	}
	assert.Equal(t, http.StatusOK, c.get("/ui/").code)
	h.now = h.now.Add(12*time.Hour + time.Second)
	assert.Equal(t, http.StatusSeeOther, c.get("/ui/").code, "expired")

	// Another admin token (another deployment, or a rotated one) accepts none of these sessions.
	h2 := newHarness(t, func(c *harnessConfig) { c.Token = "another-token" })
	c2 := h2.client()
	u2, _ := url.Parse(h2.srv.URL + "/ui/")
	c2.http.Jar.SetCookies(u2, []*http.Cookie{{Name: "hz_session", Value: good, Path: "/ui/"}})
	assert.Equal(t, http.StatusSeeOther, c2.get("/ui/").code)
}

// Secure is set when the request came over TLS as a trusted proxy says; the same header from
// anyone else changes nothing.
func TestSecureCookieBehindTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []harnessOption
		proto   string
		secure  bool
		okLogin bool
	}{
		{"trusted proxy says https", []harnessOption{trustProxy("127.0.0.0/8")}, "https", true, true},
		{"trusted proxy says http", []harnessOption{trustProxy("127.0.0.0/8")}, "http", false, true},
		{"untrusted peer says https", []harnessOption{trustProxy("10.0.0.0/8")}, "https", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			c := h.client()
			origin := h.srv.URL
			if tc.secure {
				origin = strings.Replace(origin, "http://", "https://", 1)
			}
			a := c.do(http.MethodPost, "/ui/login", url.Values{"token": {token}}, map[string]string{"X-Forwarded-Proto": tc.proto, "Origin": origin})
			require.Equal(t, http.StatusSeeOther, a.code, a.body)
			assert.Equal(t, tc.secure, sessionCookieOf(t, a).Secure)
		})
	}
}

// A reverse proxy doing single sign-on passes the admin token; the console then needs no
// session, but a POST still needs the console's Origin and the CSRF token, since the proxy adds
// the header to every request, forged ones too.
func TestBearerTokenFromAProxy(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	bearer := map[string]string{"Authorization": "Bearer " + token}
	a := c.do(http.MethodGet, "/ui/dlq", nil, bearer)
	require.Equal(t, http.StatusOK, a.code)
	assert.Contains(t, a.body, "signed in by your proxy")
	assert.Equal(t, http.StatusUnauthorized, c.do(http.MethodGet, "/ui/dlq", nil, map[string]string{"Authorization": "Bearer nope"}).code)

	h.deadLetter("1", []byte(`{"id":1}`), "permanent", "invalid_payload")
	_, rest, _ := strings.Cut(c.do(http.MethodGet, "/ui/dlq/purge", nil, bearer).body, `name="csrf" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	assert.Equal(t, http.StatusForbidden, c.do(http.MethodPost, "/ui/dlq/purge?all=true", url.Values{}, bearer).code)
	withOrigin := map[string]string{"Authorization": "Bearer " + token, "Origin": "https://evil.example"}
	assert.Equal(t, http.StatusForbidden, c.do(http.MethodPost, "/ui/dlq/purge?all=true", url.Values{"csrf": {csrf}}, withOrigin).code)
	assert.Equal(t, http.StatusSeeOther, c.do(http.MethodPost, "/ui/dlq/purge?all=true", url.Values{"csrf": {csrf}}, bearer).code)
}

// Every state-changing POST checks that it comes from a console page: the Origin (or, without
// one, the Referer) and the session's CSRF token.
func TestPostsNeedOriginAndCSRFToken(t *testing.T) {
	h := newHarness(t)
	c := h.client().login()
	csrf := c.csrf("/ui/")
	tests := []struct {
		name string
		hdr  map[string]string
		form url.Values
		want int
	}{
		{"origin and token", nil, url.Values{"csrf": {csrf}}, http.StatusSeeOther},
		{"other origin", map[string]string{"Origin": "http://evil.example"}, url.Values{"csrf": {csrf}}, http.StatusForbidden},
		{"null origin", map[string]string{"Origin": "null"}, url.Values{"csrf": {csrf}}, http.StatusForbidden},
		{"no origin, own referer", map[string]string{"Origin": "", "Referer": h.srv.URL + "/ui/dlq"}, url.Values{"csrf": {csrf}}, http.StatusSeeOther},
		{"no origin, foreign referer", map[string]string{"Origin": "", "Referer": "http://evil.example/ui/"}, url.Values{"csrf": {csrf}}, http.StatusForbidden},
		{"no origin, no referer", map[string]string{"Origin": ""}, url.Values{"csrf": {csrf}}, http.StatusForbidden},
		{"no token", nil, url.Values{}, http.StatusForbidden},
		{"another session's token", nil, url.Values{"csrf": {h.client().login().csrf("/ui/")}}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := c.do(http.MethodPost, "/ui/dlq/purge?all=true", tc.form, tc.hdr)
			assert.Equal(t, tc.want, a.code, a.body)
		})
	}
}

// Every page carries the security headers, errors and the login page included; the API keeps its
// 401 with the JSON error body.
func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	c := h.client().login()
	is := h.issue("www.example.com", "www.example.com")
	h.deadLetter("1", []byte(`{}`), "permanent", "invalid_payload")
	for _, path := range []string{"/ui/", "/ui/login", "/ui/certificates", "/ui/certificates/" + is.sha, "/ui/findings", "/ui/dlq", "/ui/dlq/1",
		"/ui/report", "/ui/certificates?sort=bogus", "/ui/no-such-page", "/ui/static/console.css"} {
		a := c.get(path)
		assert.Equal(t, "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
			a.hdr.Get("Content-Security-Policy"), path)
		assert.Equal(t, "nosniff", a.hdr.Get("X-Content-Type-Options"), path)
		assert.Equal(t, "same-origin", a.hdr.Get("Referrer-Policy"), path)
		assert.Equal(t, "DENY", a.hdr.Get("X-Frame-Options"), path)
		if !strings.HasPrefix(path, "/ui/static/") {
			assert.Equal(t, "no-store", a.hdr.Get("Cache-Control"), path)
			assert.NotContains(t, a.body, "<script", path)
			assert.NotContains(t, a.body, " style=", path)
		}
	}
	a := h.client().get("/api/v1/certificates")
	assert.Equal(t, http.StatusUnauthorized, a.code)
	assert.Contains(t, a.body, `{"errors":[{"message":`)
}
