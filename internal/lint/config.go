package lint

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	zl "github.com/zmap/zlint/v3/lint"
)

// Config chooses which zlint lints run on a certificate and which of their results alert. The
// zero value runs nothing: start from DefaultConfig. Names are zlint's: sources as zlint spells
// them (CABF_BR, RFC5280, Mozilla, ...; see AllSources), lints by their full name
// (e_rsa_mod_less_than_2048_bits).
type Config struct {
	// Enabled switches linting on.
	Enabled bool
	// Sources are the zlint sources whose every lint runs.
	Sources []string
	// Include names lints that run although their source is not in Sources.
	Include []string
	// Exclude names lints that never run, whatever their source.
	Exclude []string
	// Alert says which results alert.
	Alert AlertPolicy
}

// AlertPolicy says which lint results become alerting findings. A result alerts when its status
// is in Statuses, its lint's source is in Sources or its name in Include, its name is not in
// Exclude, and it was found on a final certificate (or Precerts is set). Results that do not alert
// are still stored and shown.
type AlertPolicy struct {
	Statuses []Status
	Sources  []string
	Include  []string
	Exclude  []string
	// Precerts makes precertificates alert too. Off by default: a precertificate and its final
	// certificate share one TBSCertificate, so they lint alike, and the final certificate is what
	// clients see.
	Precerts bool
}

// DefaultSources are the sources that judge a TLS server certificate: the CA/Browser Forum
// Baseline Requirements and EV Guidelines (zlint applies EV lints to EV certificates only), the
// IETF RFCs zlint checks (RFC 5280 and the algorithm, IDNA and CT RFCs) and the Mozilla, Apple
// and Chrome root programs. Left out: code signing and S/MIME requirements, ETSI (EU qualified
// certificates) and zlint's community lints, which cite no standard.
func DefaultSources() []string {
	return []string{
		string(zl.CABFBaselineRequirements), string(zl.CABFEVGuidelines),
		string(zl.RFC5280), string(zl.RFC3279), string(zl.RFC5480), string(zl.RFC5891), string(zl.RFC6962), string(zl.RFC8813),
		string(zl.MozillaRootStorePolicy), string(zl.AppleRootStorePolicy), string(zl.ChromeRootStorePolicy),
	}
}

// DefaultConfig runs the DefaultSources and alerts on error- and fatal-level Baseline
// Requirements and RFC 5280 results on final certificates: the two standards every publicly
// trusted TLS certificate must meet, and the levels that mean a MUST is broken.
func DefaultConfig() Config {
	return Config{
		Enabled: true,
		Sources: DefaultSources(),
		Alert: AlertPolicy{
			Statuses: []Status{StatusError, StatusFatal},
			Sources:  []string{string(zl.CABFBaselineRequirements), string(zl.RFC5280)},
		},
	}
}

// AllSources returns the sources of zlint's certificate lints, sorted.
func AllSources() []string {
	var out []string
	for _, l := range zl.GlobalRegistry().CertificateLints().Lints() {
		out = append(out, string(l.Source))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CanonicalSource returns zlint's spelling of the source s, matched without regard to case.
func CanonicalSource(s string) (string, error) {
	all := AllSources()
	for _, src := range all {
		if strings.EqualFold(src, strings.TrimSpace(s)) {
			return src, nil
		}
	}
	return "", fmt.Errorf("unknown lint source %q (known: %s)", s, strings.Join(all, ", "))
}

// KnownLint reports an error unless name is one of zlint's certificate lints.
func KnownLint(name string) error {
	if certificateLint(name) == nil {
		return fmt.Errorf("unknown lint %q: zlint has no certificate lint of that name (names look like e_rsa_mod_less_than_2048_bits)", name)
	}
	return nil
}

func certificateLint(name string) *zl.CertificateLint {
	return zl.GlobalRegistry().CertificateLints().ByName(name)
}

// Validate checks every name in c and that c selects at least one lint when enabled. Sources are
// accepted in any case; New uses zlint's spelling.
func (c Config) Validate() error {
	var errs []error
	check := func(field string, names []string, known func(string) error) {
		for i, n := range names {
			if err := known(n); err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", field, i, err))
			}
		}
	}
	source := func(s string) error { _, err := CanonicalSource(s); return err }
	check("sources", c.Sources, source)
	check("include", c.Include, KnownLint)
	check("exclude", c.Exclude, KnownLint)
	check("alert.sources", c.Alert.Sources, source)
	check("alert.include", c.Alert.Include, KnownLint)
	check("alert.exclude", c.Alert.Exclude, KnownLint)
	for i, s := range c.Alert.Statuses {
		if !s.Finding() {
			errs = append(errs, fmt.Errorf("alert.statuses[%d]: %q cannot alert: use fatal, error, warn or notice", i, s))
		}
	}
	for _, n := range c.Include {
		if slices.Contains(c.Exclude, n) {
			errs = append(errs, fmt.Errorf("include: %s is also excluded: keep it in one list", n))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if !c.Enabled {
		return nil
	}
	run := c.selected()
	if len(run) == 0 {
		return errors.New("no lint selected: list at least one source, or include lints by name")
	}
	for _, n := range c.Alert.Include {
		if !slices.Contains(run, n) {
			errs = append(errs, fmt.Errorf("alert.include: %s does not run: add it to include", n))
		}
	}
	return errors.Join(errs...)
}

// selected returns the names of the lints c runs, sorted; c must be valid.
func (c Config) selected() []string {
	sources := map[string]bool{}
	for _, s := range c.Sources {
		if canon, err := CanonicalSource(s); err == nil {
			sources[canon] = true
		}
	}
	var out []string
	for _, l := range zl.GlobalRegistry().CertificateLints().Lints() {
		if (sources[string(l.Source)] || slices.Contains(c.Include, l.Name)) && !slices.Contains(c.Exclude, l.Name) {
			out = append(out, l.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Alerts returns the results of r that alert under a, in r's order (most severe first).
func (a AlertPolicy) Alerts(r Report) []Result {
	if r.Precert && !a.Precerts {
		return nil
	}
	var out []Result
	for _, res := range r.Results {
		if !slices.Contains(a.Statuses, res.Status) || slices.Contains(a.Exclude, res.Lint) {
			continue
		}
		if slices.ContainsFunc(a.Sources, func(s string) bool { return strings.EqualFold(s, res.Source) }) ||
			slices.Contains(a.Include, res.Lint) {
			out = append(out, res)
		}
	}
	return out
}

func (c Config) clone() Config {
	c.Sources, c.Include, c.Exclude = slices.Clone(c.Sources), slices.Clone(c.Include), slices.Clone(c.Exclude)
	a := &c.Alert
	a.Statuses, a.Sources, a.Include, a.Exclude = slices.Clone(a.Statuses), slices.Clone(a.Sources), slices.Clone(a.Include), slices.Clone(a.Exclude)
	return c
}
