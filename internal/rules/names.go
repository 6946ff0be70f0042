package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// lenient converts certificate names, which may hold wildcard or redacted labels and
// underscores that the strict lookup profile refuses.
var lenient = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

// normaliseName turns a name from the rules file into its lowercase A-label form. A leading dot
// means "and all subdomains". allowWildcard accepts a literal "*." first label (authorization
// names, which must cover a certificate's wildcard entry exactly).
func normaliseName(raw string, allowWildcard bool) (name string, subdomains bool, err error) {
	s := strings.TrimSuffix(strings.TrimSpace(raw), ".")
	if strings.HasPrefix(s, ".") {
		subdomains = true
		s = s[1:]
	}
	if s == "" {
		return "", false, errors.New("empty name")
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if subdomains {
			return "", false, fmt.Errorf("%q: an IP address has no subdomains", raw)
		}
		return ip.String(), false, nil
	}
	wild := ""
	if strings.HasPrefix(s, "*.") && allowWildcard && !subdomains {
		wild, s = "*.", s[2:]
	}
	if strings.ContainsAny(s, "*?") {
		return "", false, fmt.Errorf("%q: wildcards are not names here: write .example.com for example.com and all its subdomains", raw)
	}
	ascii, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", false, fmt.Errorf("%q: not a valid domain name: %w", raw, err)
	}
	return wild + ascii, subdomains, nil
}

// normaliseHost turns a certificate name (Unicode or A-label, possibly with "*" or "?" labels)
// into lowercase A-label form. It never fails: a label that cannot be converted is kept
// lowercased, so a strange name still gets compared rather than dropped.
func normaliseHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.String()
	}
	labels := strings.Split(h, ".")
	for i, l := range labels {
		if isWildLabel(l) || isASCII(l) {
			continue
		}
		if a, err := lenient.ToASCII(l); err == nil {
			labels[i] = a
		}
	}
	return strings.Join(labels, ".")
}

func normaliseHosts(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if n := normaliseHost(h); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isWildLabel reports a wildcard ("*", "w*") or redacted ("?") label. Such labels match any label:
// a certificate for *.example.com can serve www.example.com, so it concerns that watch item.
func isWildLabel(l string) bool { return strings.ContainsAny(l, "*?") }

// matches reports whether the certificate name host (normalised) concerns the watch item,
// treating wildcard and redacted labels fail-safe as matching anything.
func (w WatchItem) matches(host string) bool {
	hl := strings.Split(host, ".")
	wl := strings.Split(w.Name, ".")
	if len(hl) < len(wl) || (len(hl) > len(wl) && !w.Subdomains) {
		return false
	}
	off := len(hl) - len(wl)
	for i, want := range wl {
		if got := hl[off+i]; got != want && !isWildLabel(got) {
			return false
		}
	}
	return true
}

// matchedItems returns the watch items that one of hosts matches.
func matchedItems(items []WatchItem, hosts []string) []WatchItem {
	var out []WatchItem
	for _, w := range items {
		for _, h := range hosts {
			if w.matches(h) {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

// coveredBy reports whether every host lies within names (a host must equal an exact name, or lie
// at or below a subdomains name; a wildcard host is covered only by a name that covers it
// literally). No hosts is never covered: an authorization must not apply to what it cannot see.
func coveredBy(hosts []string, names []WatchItem) bool {
	if len(hosts) == 0 {
		return false
	}
	for _, h := range hosts {
		ok := false
		for _, n := range names {
			if h == n.Name || (n.Subdomains && strings.HasSuffix(h, "."+n.Name)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
