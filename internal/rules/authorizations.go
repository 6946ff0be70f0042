package rules

import (
	"fmt"
	"slices"
	"strings"
)

// NewAuthorization validates spec as the rules file would validate the same authorization and
// returns it: exactly one of TBSSHA256 (one issuance) or SPKISHA256 (a key, which needs Names);
// fingerprints are 64 hex digits (colons allowed) and names are normalised like the file's. An
// error names the field at fault.
func NewAuthorization(spec AuthorizationSpec) (Authorization, error) {
	a := Authorization{Note: strings.TrimSpace(spec.Note)}
	var err error
	if spec.TBSSHA256 != "" {
		if a.TBSSHA256, err = hexFingerprint(spec.TBSSHA256); err != nil {
			return Authorization{}, fmt.Errorf("tbsSha256: %w", err)
		}
	}
	if spec.SPKISHA256 != "" {
		if a.SPKISHA256, err = hexFingerprint(spec.SPKISHA256); err != nil {
			return Authorization{}, fmt.Errorf("spkiSha256: %w", err)
		}
	}
	for i, raw := range spec.Names {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		var w WatchItem
		if w.Name, w.Subdomains, err = normaliseName(raw, true); err != nil {
			return Authorization{}, fmt.Errorf("names[%d]: %w", i, err)
		}
		if !slices.ContainsFunc(a.Names, func(x WatchItem) bool { return x.Name == w.Name && x.Subdomains == w.Subdomains }) {
			a.Names = append(a.Names, w)
		}
	}
	switch {
	case (a.TBSSHA256 == "") == (a.SPKISHA256 == ""):
		return Authorization{}, fmt.Errorf("set exactly one of tbsSha256 (one issuance) or spkiSha256 (a key, with names)")
	case a.SPKISHA256 != "" && len(a.Names) == 0:
		return Authorization{}, fmt.Errorf("spkiSha256 needs names: the key is authorized only for certificates whose names all fall within them")
	case a.TBSSHA256 != "" && len(a.Names) > 0:
		return Authorization{}, fmt.Errorf("names apply only to spkiSha256 authorizations")
	}
	return a, nil
}

func hexFingerprint(s string) (string, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	if !reSHA256.MatchString(s) {
		return "", fmt.Errorf("expected a SHA-256 fingerprint (64 hex digits)")
	}
	return strings.ToLower(s), nil
}

// NameList returns a's names as the rules file writes them (".example.com" for it and every name
// below), sorted.
func (a Authorization) NameList() []string {
	out := make([]string, len(a.Names))
	for i, n := range a.Names {
		out[i] = n.String()
	}
	slices.Sort(out)
	return out
}

// CoversHosts reports whether every one of hosts (a certificate's names, as it holds them) falls
// within a's names: what an SPKISHA256 authorization asks of a certificate on its key. No hosts is
// never covered.
func (a Authorization) CoversHosts(hosts []string) bool {
	return coveredBy(normaliseHosts(hosts), a.Names)
}

// WithAuthorizations returns a copy of p whose authorizations are p's followed by extra: the
// rules file's and those stored elsewhere (the inventory), judged alike. p is not changed.
func (p *Policy) WithAuthorizations(extra []Authorization) *Policy {
	if len(extra) == 0 {
		return p
	}
	q := *p
	q.Authorizations = append(slices.Clip(p.Authorizations), extra...)
	return &q
}
