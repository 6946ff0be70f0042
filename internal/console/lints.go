package console

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
)

// lintsView is the certificate page's Lints section: what zlint found on this certificate (a
// precertificate and its certificate are linted apart), from the stored lint run.
type lintsView struct {
	Linted     bool   // a run is stored (nil until the lint stage linted it)
	Unparsable bool   // zcrypto could not parse the DER: nothing was linted
	Linter     string // "zlint v3.7.3"
	LintedAt   time.Time
	Problems   []statusCount // the statuses that occurred, most severe first: "2 errors", "1 warning"
	Others     string        // "312 passed, 40 not applicable, 3 not in force at notBefore"
	Results    []lintRow     // the results that are not a pass, most severe first
	Badge      *statusCount  // for the page head: the most severe status with the count of problems
}

// statusCount is a count of lint results with one status, as a badge.
type statusCount struct {
	Text, Class string
}

type lintRow struct {
	inventory.LintResult
	Class       string // the badge class of its status
	CitationURL string // the citation when it is one http(s) URL: then it is a link
	InFinding   bool   // named by the issuance's lintError finding: it alerted
}

// lintClass is the status colour of a lint status: fatal and error are problems, warn a warning,
// notice information.
func lintClass(status string) string {
	switch status {
	case "fatal", "error":
		return "bad"
	case "warn":
		return "warn"
	case "notice":
		return "info"
	}
	return ""
}

// lintStatusWords names a count of each status for the summary line.
var lintStatusWords = map[string][2]string{
	"fatal": {"fatal", "fatal"}, "error": {"error", "errors"}, "warn": {"warning", "warnings"}, "notice": {"notice", "notices"},
}

func countText(n int, status string) string {
	w := lintStatusWords[status]
	if n == 1 {
		return "1 " + w[0]
	}
	return num(n) + " " + w[1]
}

// newLintsView summarizes l (nil: not linted yet); fs are the issuance's findings, whose
// lintError names the lints that alerted.
func newLintsView(l *inventory.CertLints, fs []inventory.Finding) lintsView {
	if l == nil {
		return lintsView{}
	}
	v := lintsView{Linted: true, Unparsable: l.Unparsable, Linter: "zlint " + l.ZlintVersion, LintedAt: l.LintedAt}
	if l.ZlintVersion == "" || l.ZlintVersion == "unknown" { // a binary built without module information
		v.Linter = "zlint (version unknown)"
	}
	if l.Unparsable {
		v.Badge = &statusCount{Text: "zlint: unparsable", Class: "warn"}
		return v
	}
	c := l.Counts
	problems := 0
	for _, s := range []struct {
		status string
		n      int
	}{{"fatal", c.Fatal}, {"error", c.Error}, {"warn", c.Warn}, {"notice", c.Notice}} {
		if s.n > 0 {
			v.Problems = append(v.Problems, statusCount{Text: countText(s.n, s.status), Class: lintClass(s.status)})
			if s.status != "notice" {
				problems += s.n
			}
		}
	}
	var others []string
	others = append(others, num(c.Pass)+" passed")
	if c.NA > 0 {
		others = append(others, num(c.NA)+" not applicable")
	}
	if c.NE > 0 {
		others = append(others, num(c.NE)+" not in force at its notBefore")
	}
	v.Others = strings.Join(others, ", ")
	if problems > 0 {
		v.Badge = &statusCount{Text: "zlint: " + v.Problems[0].Text, Class: v.Problems[0].Class}
		if len(v.Problems) > 1 && v.Problems[1].Class != "info" {
			v.Badge.Text += ", " + v.Problems[1].Text
		}
	}
	var alerted []string
	for _, f := range fs {
		if f.Type == string(rules.TypeLintError) {
			alerted = append(alerted, f.Lints...)
		}
	}
	for _, r := range l.Results {
		v.Results = append(v.Results, lintRow{LintResult: r, Class: lintClass(r.Status), CitationURL: httpURL(r.Citation),
			InFinding: slices.Contains(alerted, r.Lint)})
	}
	return v
}

// httpURL is s when it is a single absolute http or https URL, else "": a citation is text (a
// section of the Baseline Requirements, an RFC), and a link only when it is nothing but a web
// address.
func httpURL(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"'<>") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return u.String()
}
