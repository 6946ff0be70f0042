package rules

import (
	"fmt"
	"strings"

	"github.com/hzhook/hzhook/internal/lint"
)

// maxLintsInDetail bounds the lints a lintError finding's Detail names; Lints names them all.
const maxLintsInDetail = 5

// EvaluateLints turns what zlint found on one certificate (its lint.Report, from the lint stage)
// into at most one lintError finding naming every result that alerts under p.Lints.Alert. Like
// Evaluate it is pure, safe for concurrent use, silent for certificates out of scope or
// authorized, and deduplicated by the caller per (TBSSHA256, DedupType()): one alert per
// issuance. A precertificate alerts only if the policy says so (c.Precert or the report's own
// poison extension decides what a precertificate is).
func (p *Policy) EvaluateLints(c Cert, r lint.Report) []Finding {
	if !p.Rules.On(TypeLintError) {
		return nil
	}
	hosts := normaliseHosts(c.Hosts)
	if _, inScope := p.scope(hosts); !inScope || p.authorized(Cert{TBSSHA256: c.TBSSHA256, SPKISHA256: c.SPKISHA256, Hosts: hosts}) {
		return nil
	}
	r.Precert = r.Precert || c.Precert
	alerts := p.Lints.Alert.Alerts(r)
	if len(alerts) == 0 {
		return nil
	}
	names := make([]string, len(alerts))
	shown := make([]string, 0, min(len(alerts), maxLintsInDetail))
	for i, a := range alerts {
		names[i] = a.Lint
		if i < maxLintsInDetail {
			shown = append(shown, fmt.Sprintf("%s (%s, %s)", a.Lint, a.Status, citation(a)))
		}
	}
	detail := fmt.Sprintf("zlint: %d alerting result", len(alerts))
	if len(alerts) > 1 {
		detail += "s"
	}
	detail += ": " + strings.Join(shown, "; ")
	if more := len(alerts) - len(shown); more > 0 {
		detail += fmt.Sprintf("; and %d more", more)
	}
	return []Finding{{Type: TypeLintError, TBSSHA256: c.TBSSHA256, SHA256: c.SHA256, Detail: detail, Lints: names}}
}

func citation(r lint.Result) string {
	if r.Citation != "" {
		return r.Citation
	}
	return r.Source
}
