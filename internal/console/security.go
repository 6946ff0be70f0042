package console

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy allows only what the console itself serves: no inline script or style,
// no framing, forms posting only to the console.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the headers of every console answer, errors included.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, staticPrefix) {
			h.Set("Cache-Control", "no-store") // inventory data stays out of shared caches
		}
		return next(c)
	}
}

// fromTrustedProxy reports whether r came from one of the configured reverse proxies, whose
// X-Forwarded-Proto and X-Forwarded-Host are then believed.
func (con *Console) fromTrustedProxy(r *http.Request) bool {
	if len(con.opts.TrustedProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range con.opts.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// secure reports whether the browser reached the console over TLS: directly, or through a
// trusted proxy that says so.
func (con *Console) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return con.fromTrustedProxy(r) && strings.EqualFold(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0]), "https")
}

// origin is the scheme and host the browser addressed, as an Origin header states it.
func (con *Console) origin(r *http.Request) string {
	scheme, host := "http", r.Host
	if con.secure(r) {
		scheme = "https"
	}
	if con.fromTrustedProxy(r) {
		if fh := strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Host"), ",")[0]); fh != "" {
			host = fh
		}
	}
	return scheme + "://" + strings.ToLower(host)
}

// sameOrigin reports whether a POST comes from a console page: its Origin header (or, where a
// browser sends none, its Referer) names the console's own origin. A request stating neither is
// refused.
func (con *Console) sameOrigin(r *http.Request) bool {
	want := con.origin(r)
	if o := r.Header.Get("Origin"); o != "" {
		return strings.EqualFold(o, want)
	}
	ref, err := url.Parse(r.Header.Get("Referer"))
	if err != nil || ref.Host == "" {
		return false
	}
	return strings.EqualFold(ref.Scheme+"://"+ref.Host, want)
}

// clientAddr is the address login attempts are counted by: the peer, or the client a trusted
// proxy names last in X-Forwarded-For.
func (con *Console) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if con.fromTrustedProxy(r) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if last := strings.TrimSpace(parts[len(parts)-1]); last != "" {
				return last
			}
		}
	}
	return host
}

// localPath reports whether next is a console path to return to after login (never another site:
// no scheme, no host, no "//" or "/\" prefix).
func localPath(next string) bool {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return false
	}
	u, err := url.Parse(next)
	return err == nil && u.Scheme == "" && u.Host == ""
}
