package lint

import (
	"cmp"
	"strings"
)

// Report is what linting one certificate found. Only results worth showing are kept (fatal,
// error, warn, notice); lints that passed, did not apply or were not in force are counted.
type Report struct {
	// Results are most severe first, then by lint name.
	Results       []Result `json:"results"`
	Passed        int      `json:"passed"`
	NotApplicable int      `json:"notApplicable"` // NA: not for this kind of certificate
	NotEffective  int      `json:"notEffective"`  // NE: not in force at its notBefore
	// Precert is true when the DER carries the CT poison extension (RFC 6962 section 3.1).
	Precert bool `json:"precert"`
}

// Result is one lint's verdict on one certificate.
type Result struct {
	Lint        string `json:"lint"`   // e.g. e_rsa_mod_less_than_2048_bits
	Status      Status `json:"status"` // fatal, error, warn or notice in a Report
	Source      string `json:"source"` // zlint's source: CABF_BR, RFC5280, Mozilla, ...
	Citation    string `json:"citation,omitempty"`
	Description string `json:"description,omitempty"`
	// Details is what the lint said about this certificate, if anything: zlint's free text, which
	// some lints word in map order (the extensions e_ext_duplicate_extension lists, the one a fatal
	// result failed to parse), so two runs on one certificate may word it differently.
	Details string `json:"details,omitempty"`
}

// Count returns how many lints gave status s.
func (r Report) Count(s Status) int {
	switch s {
	case StatusPass:
		return r.Passed
	case StatusNA:
		return r.NotApplicable
	case StatusNE:
		return r.NotEffective
	}
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Result returns the result of the lint named name, if it is among r.Results.
func (r Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Lint == name {
			return res, true
		}
	}
	return Result{}, false
}

func compareResults(a, b Result) int {
	return cmp.Or(cmp.Compare(a.Status.rank(), b.Status.rank()), strings.Compare(a.Lint, b.Lint))
}
