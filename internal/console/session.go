package console

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Cookie names. Both are scoped to /ui/.
const (
	sessionCookie = "hz_session"
	flashCookie   = "hz_flash"
	cookiePath    = "/ui/"
	csrfField     = "csrf"
)

// keys are the HMAC keys of one admin token, derived with HKDF: every replica given the same
// HZ_ADMIN_TOKEN signs and accepts the same sessions, and a new token ends every session.
type keys struct {
	token   [32]byte // SHA-256 of the admin token, compared in constant time
	enabled bool     // false: no admin token, nobody logs in
	session []byte
	csrf    []byte
	flash   []byte
}

func newKeys(token string) (keys, error) {
	k := keys{token: sha256.Sum256([]byte(token)), enabled: token != ""}
	for _, d := range []struct {
		into *[]byte
		info string
	}{{&k.session, "hzhook console session v1"}, {&k.csrf, "hzhook console csrf v1"}, {&k.flash, "hzhook console flash v1"}} {
		key, err := hkdf.Key(sha256.New, []byte(token), []byte("hzhook console"), d.info, 32)
		if err != nil {
			return keys{}, fmt.Errorf("derive console keys: %w", err)
		}
		*d.into = key
	}
	return k, nil
}

// tokenOK reports whether got is the admin token (constant time, over digests).
func (k keys) tokenOK(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return k.enabled && subtle.ConstantTimeCompare(sum[:], k.token[:]) == 1
}

func mac(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session is who a request acts as: a logged-in browser (its random id) or a request carrying the
// bearer token (a single sign-on proxy).
type session struct {
	id      string // random per login; "bearer" for the token header
	expires time.Time
}

func (s session) bearer() bool { return s.id == bearerSession }

const bearerSession = "bearer"

// newSession is a fresh session valid for ttl.
func newSession(now time.Time, ttl time.Duration) (session, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return session{}, fmt.Errorf("new session: %w", err)
	}
	return session{id: base64.RawURLEncoding.EncodeToString(b), expires: now.Add(ttl).Truncate(time.Second)}, nil
}

// cookieValue is "v1.<expires unix>.<id>.<mac>".
func (k keys) cookieValue(s session) string {
	exp := strconv.FormatInt(s.expires.Unix(), 10)
	return "v1." + exp + "." + s.id + "." + mac(k.session, "v1", exp, s.id)
}

var errBadSession = errors.New("no valid session")

// parseCookie returns the session of a cookie value signed with k and not expired at now.
func (k keys) parseCookie(v string, now time.Time) (session, error) {
	parts := strings.Split(v, ".")
	if !k.enabled || len(parts) != 4 || parts[0] != "v1" || parts[2] == bearerSession {
		return session{}, errBadSession
	}
	if !hmac.Equal([]byte(parts[3]), []byte(mac(k.session, "v1", parts[1], parts[2]))) {
		return session{}, errBadSession
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return session{}, errBadSession
	}
	return session{id: parts[2], expires: time.Unix(exp, 0)}, nil
}

// csrfToken is the CSRF token of a session: bound to it, unknown to any other site.
func (k keys) csrfToken(s session) string { return mac(k.csrf, s.id) }

func (k keys) csrfOK(s session, got string) bool {
	return hmac.Equal([]byte(got), []byte(k.csrfToken(s)))
}

// flash is a message shown once, after the redirect that answers a POST; Problem shows it as a
// failure (a redrive refused), not as a confirmation.
type flash struct {
	Msg     string
	Problem bool
}

// Kinds of flash, the first byte of its signed value.
const (
	flashDone    = 'd'
	flashProblem = 'p'
)

// flashValue is the cookie value of f: signed, so nobody else can put words on the page.
func (k keys) flashValue(f flash) string {
	kind := byte(flashDone)
	if f.Problem {
		kind = flashProblem
	}
	b := base64.RawURLEncoding.EncodeToString(append([]byte{kind}, f.Msg...))
	return b + "." + mac(k.flash, b)
}

func (k keys) parseFlash(v string) (flash, bool) {
	b, m, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(m), []byte(mac(k.flash, b))) {
		return flash{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(b)
	if err != nil || len(raw) == 0 || (raw[0] != flashDone && raw[0] != flashProblem) {
		return flash{}, false
	}
	return flash{Msg: string(raw[1:]), Problem: raw[0] == flashProblem}, true
}

// loginLimiter slows guessing: after maxFailures failed logins from one address within window,
// that address is refused until the window has passed. It holds at most maxAddresses addresses.
type loginLimiter struct {
	mu    sync.Mutex
	fails map[string]loginFailures
	now   func() time.Time
}

type loginFailures struct {
	n     int
	first time.Time
}

const (
	maxFailures  = 5
	failWindow   = time.Minute
	maxAddresses = 10000
)

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{fails: map[string]loginFailures{}, now: now}
}

// blocked returns how long addr must wait before it may try again (0: it may).
func (l *loginLimiter) blocked(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.fails[addr]
	if !ok {
		return 0
	}
	left := f.first.Add(failWindow).Sub(l.now())
	if left <= 0 {
		delete(l.fails, addr)
		return 0
	}
	if f.n >= maxFailures {
		return left
	}
	return 0
}

func (l *loginLimiter) failed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fails) >= maxAddresses {
		for a, f := range l.fails {
			if now.Sub(f.first) >= failWindow {
				delete(l.fails, a)
			}
		}
		if len(l.fails) >= maxAddresses {
			clear(l.fails) // under a flood from many addresses, forget rather than grow
		}
	}
	f := l.fails[addr]
	if f.n == 0 || now.Sub(f.first) >= failWindow {
		f = loginFailures{first: now}
	}
	f.n++
	l.fails[addr] = f
}

func (l *loginLimiter) succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, addr)
}

// setCookie writes a console cookie: HttpOnly, SameSite=Strict, on /ui/, Secure when the request
// came over TLS. maxAge < 0 deletes it.
func (con *Console) setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: con.secure(c.Request()),
	})
}
