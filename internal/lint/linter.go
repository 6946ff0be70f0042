package lint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"
)

// zlintModule is the module whose version Version reports.
const zlintModule = "github.com/zmap/zlint/v3"

// ErrUnparsable reports DER that zcrypto cannot parse as a certificate: nothing can be linted.
var ErrUnparsable = errors.New("zcrypto cannot parse the certificate")

// Linter runs the lints a Config selects. It is immutable and safe for concurrent use.
type Linter struct {
	cfg      Config
	registry zl.Registry
	names    []string
	version  string
	print    string
}

// New validates cfg and filters zlint's registry down to the lints it selects, once. A disabled
// Config gives a Linter that runs no lint.
func New(cfg Config) (*Linter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lint config: %w", err)
	}
	cfg = cfg.clone()
	for i, s := range cfg.Sources {
		cfg.Sources[i], _ = CanonicalSource(s)
	}
	l := &Linter{cfg: cfg, version: moduleVersion(zlintModule)}
	if cfg.Enabled {
		l.names = cfg.selected()
	}
	sum := sha256.Sum256([]byte(l.version + "\n" + strings.Join(l.names, "\n")))
	l.print = hex.EncodeToString(sum[:16])
	if !cfg.Enabled {
		return l, nil
	}
	// The names are never empty here (Validate), so Filter never returns the whole registry.
	reg, err := zl.GlobalRegistry().Filter(zl.FilterOptions{IncludeNames: l.names})
	if err != nil {
		return nil, fmt.Errorf("lint config: filter zlint registry: %w", err)
	}
	l.registry = reg
	return l, nil
}

// Config returns the configuration the Linter was built from, sources in zlint's spelling.
func (l *Linter) Config() Config { return l.cfg.clone() }

// Names returns the names of the lints that run, sorted.
func (l *Linter) Names() []string { return slices.Clone(l.names) }

// Version returns the zlint module version ("v3.7.3"), or "unknown" when the binary does not
// record it (test binaries do not). Stored with results, it tells which certificates to lint
// again after an upgrade.
func (l *Linter) Version() string { return l.version }

// Fingerprint identifies what the Linter's reports depend on: the zlint version and the lints that
// run (32 hex digits). Linters with one fingerprint give the same Report for the same DER, so a
// report stored with the current fingerprint need not be made again, and a change of version or
// of the lints selected makes every certificate due again. The alert policy is not part of it: it
// judges reports and does not change them.
func (l *Linter) Fingerprint() string { return l.print }

// Lint parses der with zcrypto and lints it. The error wraps ErrUnparsable when zcrypto cannot
// parse der; no other error is returned.
func (l *Linter) Lint(der []byte) (Report, error) {
	c, err := Parse(der)
	if err != nil {
		return Report{}, err
	}
	return l.LintParsed(c), nil
}

// LintParsed lints a certificate zcrypto parsed.
func (l *Linter) LintParsed(c *x509.Certificate) Report {
	r := Report{Precert: c.IsPrecert}
	if l.registry == nil {
		return r
	}
	for name, res := range zlint.LintCertificateEx(c, l.registry).Results {
		st := fromZlint(res.Status)
		switch st {
		case StatusPass:
			r.Passed++
		case StatusNA:
			r.NotApplicable++
		case StatusNE:
			r.NotEffective++
		default:
			r.Results = append(r.Results, Result{
				Lint: name, Status: st, Source: string(res.LintMetadata.Source),
				Citation: res.LintMetadata.Citation, Description: res.LintMetadata.Description, Details: res.Details,
			})
		}
	}
	slices.SortFunc(r.Results, compareResults)
	return r
}

// Parse parses der with zcrypto, as zlint needs it. zcrypto reads much that crypto/x509 refuses;
// a panic inside it is returned as an error. Every error wraps ErrUnparsable.
func Parse(der []byte) (c *x509.Certificate, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("%w: panic: %v", ErrUnparsable, p)
		}
	}()
	c, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnparsable, err)
	}
	return c, nil
}

func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				if m.Replace != nil {
					return m.Replace.Version
				}
				return m.Version
			}
		}
	}
	return "unknown"
}
