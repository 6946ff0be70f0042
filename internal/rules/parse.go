package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hzhook/hzhook/internal/lint"
)

var reSHA256 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// Parse validates a rules file and returns its Policy. Every error names the line of the
// offending value ("line 12: rules.weakKey.minRSABits: ..."). An empty file is the default policy:
// every certificate in scope, every rule on.
func Parse(data []byte) (*Policy, error) {
	p := &Policy{Rules: DefaultSwitches(), Lints: lint.DefaultConfig()}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		return nil, fmt.Errorf("parse: %w", err) // yaml.v3 syntax errors name the line
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: more than one yaml document: keep the policy in one", extra.Line)
	}
	root := deref(&doc)
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return p, nil
		}
		root = deref(root.Content[0])
	}
	if isNull(root) {
		return p, nil
	}
	err := eachKey(root, "", map[string]func(*yaml.Node) error{
		"watch":          func(n *yaml.Node) (err error) { p.Watch, err = parseWatch(n); return err },
		"rules":          func(n *yaml.Node) error { return parseSwitches(n, &p.Rules) },
		"authorizations": func(n *yaml.Node) (err error) { p.Authorizations, err = parseAuthorizations(n); return err },
		"lints":          func(n *yaml.Node) error { return parseLints(n, &p.Lints) },
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parseWatch(n *yaml.Node) ([]WatchItem, error) {
	items, err := sequence(n, "watch")
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	out := make([]WatchItem, 0, len(items))
	for i, it := range items {
		where := fmt.Sprintf("watch[%d]", i)
		w := WatchItem{Line: it.Line}
		var name *yaml.Node
		if it.Kind == yaml.ScalarNode {
			name = it // "- .example.com" shorthand
		} else if err := eachKey(it, where, map[string]func(*yaml.Node) error{
			"name":    func(v *yaml.Node) error { name = v; return nil },
			"issuers": func(v *yaml.Node) (err error) { w.Issuers, err = parseIssuers(v, where+".issuers"); return err },
		}); err != nil {
			return nil, err
		}
		if name == nil {
			return nil, errAt(it, where, "name is missing: write example.com, or .example.com for it and all subdomains")
		}
		s, err := scalar(name, where+".name")
		if err != nil {
			return nil, err
		}
		if w.Name, w.Subdomains, err = normaliseName(s, false); err != nil {
			return nil, errAt(name, where+".name", "%w", err)
		}
		if prev, dup := seen[w.String()]; dup {
			return nil, errAt(name, where+".name", "%s is already watched at line %d: merge the two items", w, prev)
		}
		seen[w.String()] = name.Line
		out = append(out, w)
	}
	return out, nil
}

func parseIssuers(n *yaml.Node, where string) ([]Issuer, error) {
	items, err := sequence(n, where)
	if err != nil {
		return nil, err
	}
	out := make([]Issuer, 0, len(items))
	for i, it := range items {
		w := fmt.Sprintf("%s[%d]", where, i)
		var is Issuer
		if err := eachKey(it, w, map[string]func(*yaml.Node) error{
			"ca": func(v *yaml.Node) (err error) { is.CA, err = scalar(v, w+".ca"); return err },
			"sha256": func(v *yaml.Node) (err error) {
				is.SHA256, err = fingerprints(v, w+".sha256")
				return err
			},
		}); err != nil {
			return nil, err
		}
		if strings.TrimSpace(is.CA) == "" && len(is.SHA256) == 0 {
			return nil, errAt(it, w, "set ca (the CCADB issuerCa name) and/or sha256 (CA certificate fingerprints)")
		}
		out = append(out, is)
	}
	return out, nil
}

func parseAuthorizations(n *yaml.Node) ([]Authorization, error) {
	items, err := sequence(n, "authorizations")
	if err != nil {
		return nil, err
	}
	out := make([]Authorization, 0, len(items))
	for i, it := range items {
		w := fmt.Sprintf("authorizations[%d]", i)
		a := Authorization{Line: it.Line}
		err := eachKey(it, w, map[string]func(*yaml.Node) error{
			"tbsSha256":  func(v *yaml.Node) (err error) { a.TBSSHA256, err = fingerprint(v, w+".tbsSha256"); return err },
			"spkiSha256": func(v *yaml.Node) (err error) { a.SPKISHA256, err = fingerprint(v, w+".spkiSha256"); return err },
			"note":       func(v *yaml.Node) (err error) { a.Note, err = scalar(v, w+".note"); return err },
			"names":      func(v *yaml.Node) (err error) { a.Names, err = authNames(v, w+".names"); return err },
		})
		if err != nil {
			return nil, err
		}
		switch {
		case (a.TBSSHA256 == "") == (a.SPKISHA256 == ""):
			return nil, errAt(it, w, "set exactly one of tbsSha256 (one issuance) or spkiSha256 (a key, with names)")
		case a.SPKISHA256 != "" && len(a.Names) == 0:
			return nil, errAt(it, w, "spkiSha256 needs names: the key is authorized only for certificates whose names all fall within them")
		case a.TBSSHA256 != "" && len(a.Names) > 0:
			return nil, errAt(it, w, "names apply only to spkiSha256 authorizations")
		}
		out = append(out, a)
	}
	return out, nil
}

func authNames(n *yaml.Node, where string) ([]WatchItem, error) {
	items, err := sequence(n, where)
	if err != nil {
		return nil, err
	}
	out := make([]WatchItem, 0, len(items))
	for i, it := range items {
		w := fmt.Sprintf("%s[%d]", where, i)
		s, err := scalar(it, w)
		if err != nil {
			return nil, err
		}
		var item WatchItem
		if item.Name, item.Subdomains, err = normaliseName(s, true); err != nil {
			return nil, errAt(it, w, "%w", err)
		}
		out = append(out, item)
	}
	return out, nil
}

func parseSwitches(n *yaml.Node, s *Switches) error {
	handlers := map[string]func(*yaml.Node) error{}
	for _, t := range Types() {
		handlers[string(t)] = func(v *yaml.Node) error { return parseRule(v, t, s) }
	}
	return eachKey(n, "rules", handlers)
}

// parseRule reads "rule: true|false" or "rule: {enabled: ..., <thresholds>}".
func parseRule(n *yaml.Node, t Type, s *Switches) error {
	where := "rules." + string(t)
	if n.Kind == yaml.ScalarNode {
		on, err := boolean(n, where)
		s.Enabled[t] = on
		return err
	}
	s.Enabled[t] = true
	keys := map[string]func(*yaml.Node) error{
		"enabled": func(v *yaml.Node) (err error) { s.Enabled[t], err = boolean(v, where+".enabled"); return err },
	}
	switch t {
	case TypeWeakKey:
		keys["minRSABits"] = func(v *yaml.Node) (err error) { s.MinRSABits, err = positive(v, where+".minRSABits"); return err }
		keys["minECBits"] = func(v *yaml.Node) (err error) { s.MinECBits, err = positive(v, where+".minECBits"); return err }
		keys["minStrength"] = func(v *yaml.Node) (err error) { s.MinStrength, err = nonNegative(v, where+".minStrength"); return err }
	case TypeExpiringSoon:
		keys["days"] = func(v *yaml.Node) error {
			items, err := sequence(v, where+".days")
			if err != nil {
				return err
			}
			if len(items) == 0 {
				return errAt(v, where+".days", "list at least one threshold, e.g. [30, 14, 7], or set enabled: false")
			}
			days := make([]int, 0, len(items))
			for i, it := range items {
				d, err := positive(it, fmt.Sprintf("%s.days[%d]", where, i))
				if err != nil {
					return err
				}
				days = append(days, d)
			}
			s.ExpiringDays = sortedDesc(days)
			return nil
		}
	}
	return eachKey(n, where, keys)
}

// eachKey walks a mapping, calling the handler of each key and refusing unknown and repeated keys.
func eachKey(n *yaml.Node, where string, handlers map[string]func(*yaml.Node) error) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return errAt(n, where, "expected a mapping (key: value), got %s", kind(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		h, ok := handlers[k.Value]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			slices.Sort(known)
			return errAt(k, join(where, k.Value), "unknown key (known: %s)", strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return errAt(k, join(where, k.Value), "key repeated")
		}
		seen[k.Value] = true
		if err := h(v); err != nil {
			return err
		}
	}
	return nil
}

func sequence(n *yaml.Node, where string) ([]*yaml.Node, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, where, "expected a list, got %s", kind(n))
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out, nil
}

func scalar(n *yaml.Node, where string) (string, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", errAt(n, where, "expected a string, got %s", kind(n))
	}
	return n.Value, nil
}

func boolean(n *yaml.Node, where string) (bool, error) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, errAt(n, where, "expected true or false, got %s", kind(n))
	}
	return b, nil
}

func positive(n *yaml.Node, where string) (int, error) {
	v, err := nonNegative(n, where)
	if err == nil && v == 0 {
		return 0, errAt(n, where, "must be greater than 0")
	}
	return v, err
}

func nonNegative(n *yaml.Node, where string) (int, error) {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		return 0, errAt(n, where, "expected a whole number >= 0, got %s", kind(n))
	}
	return v, nil
}

func fingerprint(n *yaml.Node, where string) (string, error) {
	s, err := scalar(n, where)
	if err != nil {
		return "", err
	}
	s = strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	if !reSHA256.MatchString(s) {
		return "", errAt(n, where, "expected a SHA-256 fingerprint (64 hex digits)")
	}
	return strings.ToLower(s), nil
}

// fingerprints accepts one fingerprint or a list of them.
func fingerprints(n *yaml.Node, where string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		f, err := fingerprint(n, where)
		return []string{f}, err
	}
	items, err := sequence(n, where)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		f, err := fingerprint(it, fmt.Sprintf("%s[%d]", where, i))
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func errAt(n *yaml.Node, where, format string, args ...any) error {
	return fmt.Errorf("line %d: %s: "+format, append([]any{n.Line, where}, args...)...)
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}
