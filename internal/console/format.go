package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"ts":       timestamp,
		"date":     func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"ago":      ago,
		"left":     left,
		"short":    short,
		"join":     strings.Join,
		"with":     with,
		"without":  without,
		"truncate": truncate,
		"plural":   plural,
		"num":      num,
		"add":      func(a, b int) int { return a + b },
		"deref":    func(t *time.Time) time.Time { return derefTime(t) },
		"first":    func(n int, xs []string) []string { return xs[:min(n, len(xs))] },
		"more":     func(n int, xs []string) int { return max(0, len(xs)-n) },
		"pager":    newPager,
		"sortHref": sortHref,
		"sortAria": sortAria,
		"expiring": expiringHref,
		"pct":      func(part, whole int) float64 { return pct(part, whole) },
		"filterOf": filterText,
		"navItem": func(active, key, href, label string) navItem {
			return navItem{Href: href, Label: label, Active: active == key}
		},
		"expiryOf":    func(now, notAfter time.Time) expiry { return expiry{Now: now, NotAfter: notAfter} },
		"expiryClass": expiryClass,
		"span":        span,
		"words":       func(xs ...string) []string { return xs },
		"addf":        func(a float64, b float64) float64 { return a + b },
	}
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// timestamp is a time as the console shows it: UTC, to the second; "—" for an unknown one.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is t relative to now: "3 min ago", "in 12 days".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + span(-d)
	}
	if d < 30*time.Second {
		return "just now"
	}
	return span(d) + " ago"
}

// left says how long a certificate valid until notAfter has left at now.
func left(now, notAfter time.Time) string {
	if notAfter.IsZero() {
		return "validity unknown"
	}
	d := notAfter.Sub(now)
	if d <= 0 {
		return "expired " + span(-d) + " ago"
	}
	return span(d) + " left"
}

// span is a rounded duration in the largest unit that fits.
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return plural(int(d/time.Second), "second")
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 730*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	default:
		return plural(int(d/(365*24*time.Hour)), "year")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return num(n) + " " + unit + "s"
}

// num writes n with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + num(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// short is a hash cut to its first 12 digits for tables (the full one is in the title and on the
// certificate page).
func short(s string) string {
	if len(s) <= 16 {
		return s
	}
	return s[:12] + "…"
}

func truncate(n int, s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// with is the query q with key set to value (dropped when empty), and page reset unless key is
// page: the link of one filter or sort or page change, starting with "?".
func with(q url.Values, kv ...string) (string, error) {
	if len(kv)%2 != 0 {
		return "", fmt.Errorf("with: odd number of arguments")
	}
	out := url.Values{}
	for k, vs := range q {
		out[k] = append([]string(nil), vs...)
	}
	resetPage := true
	for i := 0; i < len(kv); i += 2 {
		if kv[i] == "page" {
			resetPage = false
		}
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	if resetPage {
		out.Del("page")
	}
	for k, vs := range out {
		if len(vs) == 0 || vs[0] == "" {
			out.Del(k)
		}
	}
	if len(out) == 0 {
		return "?", nil
	}
	return "?" + out.Encode(), nil
}

// without is q without the given keys (an export link keeps the filter, not the page).
func without(q url.Values, keys ...string) string {
	out := url.Values{}
	for k, vs := range q {
		out[k] = vs
	}
	for _, k := range keys {
		out.Del(k)
	}
	if len(out) == 0 {
		return ""
	}
	return "?" + out.Encode()
}

// pager is the paging bar of a list: where we are and the links to the pages beside.
type pager struct {
	Page, Pages, Total int
	First, Last        int // the items shown, from 1
	Prev, Next         string
}

func newPager(page, pageSize, pages, total, shown int, q url.Values) (pager, error) {
	p := pager{Page: page, Pages: pages, Total: total}
	if shown > 0 {
		p.First = (page-1)*pageSize + 1
		p.Last = p.First + shown - 1
	}
	var err error
	if page > 1 {
		if p.Prev, err = with(q, "page", strconv.Itoa(min(page-1, max(pages, 1)))); err != nil {
			return p, err
		}
	}
	if page < pages {
		if p.Next, err = with(q, "page", strconv.Itoa(page+1)); err != nil {
			return p, err
		}
	}
	return p, nil
}

// sortHref sorts by key, ascending first, descending when already ascending.
func sortHref(q url.Values, key string) (string, error) {
	if q.Get("sort") == key {
		return with(q, "sort", "-"+key)
	}
	return with(q, "sort", key)
}

// sortAria is the aria-sort value of a column header: "ascending", "descending" or "".
func sortAria(q url.Values, key string) string {
	switch q.Get("sort") {
	case key:
		return "ascending"
	case "-" + key:
		return "descending"
	}
	return ""
}

func pct(part, whole int) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) * 100 / float64(whole)
}

type navItem struct {
	Href, Label string
	Active      bool
}

type expiry struct{ Now, NotAfter time.Time }

// expiryClass is the status colour of a certificate's expiry: bad when expired or within 7 days,
// warn within 30.
func expiryClass(now, notAfter time.Time) string {
	switch d := notAfter.Sub(now); {
	case d <= 7*24*time.Hour:
		return "bad"
	case d <= 30*24*time.Hour:
		return "warn"
	}
	return "ok"
}
