package inventory

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Report answers "what is expiring, who issued it, which are wildcards, which are not ours" for the
// whole inventory. Every count is of issuances: a precertificate and its certificate (same
// tbsSha256) count once.
type Report struct {
	GeneratedAt  time.Time       `json:"generatedAt"`
	Issuances    int             `json:"issuances"`
	Certificates int             `json:"certificates"` // rows, precertificates included
	Expired      int             `json:"expired"`
	Wildcards    int             `json:"wildcards"`
	Expiring     []ExpiringCount `json:"expiring"`
	ByIssuerCA   []Count         `json:"byIssuerCa"` // issuerCa, or the issuer DN when unknown
	BySigAlg     []Count         `json:"bySigAlg"`
	ByKey        []Count         `json:"byKey"` // "EC 256", "RSA 2048"
	ByOwnership  []Count         `json:"byOwnership"`
	Lints        LintReport      `json:"lints"`
}

// ExpiringCount is how many issuances, not yet expired, expire within Days.
type ExpiringCount struct {
	WithinDays int `json:"withinDays"`
	Count      int `json:"count"`
}

// Count is the number of issuances with one value of a property.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// ReportWindows are the expiry windows of a Report, in days.
func ReportWindows() []int { return []int{7, 30, 90} }

// Report computes the inventory report at now.
func (s *Store) Report(ctx context.Context, now time.Time) (Report, error) {
	now = Ms(now)
	r := Report{GeneratedAt: now}
	t := s.dialect.timeArg
	var a args
	nowP := a.add(t(now))
	q := "SELECT COUNT(DISTINCT issuance), COUNT(*), COUNT(DISTINCT CASE WHEN not_after < " + nowP +
		" THEN issuance END), COUNT(DISTINCT CASE WHEN wildcard THEN issuance END)"
	for _, d := range ReportWindows() {
		q += ", COUNT(DISTINCT CASE WHEN not_after >= " + nowP + " AND not_after < " + a.add(t(now.AddDate(0, 0, d))) + " THEN issuance END)"
	}
	dest := []any{&r.Issuances, &r.Certificates, &r.Expired, &r.Wildcards}
	counts := make([]int, len(ReportWindows()))
	for i := range counts {
		dest = append(dest, &counts[i])
	}
	if err := s.read.QueryRowContext(ctx, q+" FROM certificates", a.vals...).Scan(dest...); err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	for i, d := range ReportWindows() {
		r.Expiring = append(r.Expiring, ExpiringCount{WithinDays: d, Count: counts[i]})
	}
	groups := []struct {
		into *[]Count
		expr string
	}{
		{&r.ByIssuerCA, "CASE WHEN issuer_ca <> '' THEN issuer_ca ELSE issuer END"},
		{&r.BySigAlg, "sig_alg"},
		{&r.ByKey, "key_alg"},
		{&r.ByOwnership, "CASE WHEN ownership <> '' THEN ownership ELSE 'unknown' END"},
	}
	for _, g := range groups {
		extra := ""
		if g.expr == "key_alg" {
			extra = ", key_len"
		}
		rows, err := s.read.QueryContext(ctx, "SELECT "+g.expr+extra+", COUNT(DISTINCT issuance) FROM certificates GROUP BY "+
			g.expr+extra+" ORDER BY COUNT(DISTINCT issuance) DESC, "+g.expr+extra)
		if err != nil {
			return Report{}, fmt.Errorf("report: %w", err)
		}
		out := []Count{}
		for rows.Next() {
			var c Count
			var keyLen int
			dest := []any{&c.Key, &c.Count}
			if extra != "" {
				dest = []any{&c.Key, &keyLen, &c.Count}
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return Report{}, fmt.Errorf("report: %w", err)
			}
			if extra != "" && keyLen > 0 {
				c.Key += " " + strconv.Itoa(keyLen)
			}
			out = append(out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Report{}, fmt.Errorf("report: %w", err)
		}
		*g.into = out
	}
	lints, err := s.lintReport(ctx)
	if err != nil {
		return Report{}, err
	}
	r.Lints = lints
	return r, nil
}
