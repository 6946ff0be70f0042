package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/rules"
)

// ExpiryCandidate is a certificate the expiry scan judges, with the expiringSoon thresholds
// already recorded for its issuance.
type ExpiryCandidate struct {
	Cert    rules.Cert
	Alerted []int
}

// expiryPage is how many certificates the scan reads at a time.
const expiryPage = 500

// ExpiryCandidates returns, after the certificate sha256 after (keyset paging, "" first), up to
// expiryPage final certificates (not precertificates) whose effectiveNotAfter lies in (now, until].
// next is the key to continue from, "" when there are no more.
func (s *Store) ExpiryCandidates(ctx context.Context, now, until time.Time, after string) (out []ExpiryCandidate, next string, err error) {
	t := s.dialect.timeArg
	rows, err := s.read.QueryContext(ctx, `SELECT c.sha256, c.issuance, c.subject, c.issuer, c.issuer_ca, c.serial, c.hosts,
c.not_before, c.not_after, c.effective_not_after, c.payload FROM certificates c
WHERE c.precert = $1 AND c.effective_not_after > $2 AND c.effective_not_after <= $3 AND c.sha256 > $4
ORDER BY c.sha256 LIMIT $5`, false, t(Ms(now)), t(Ms(until)), after, expiryPage)
	if err != nil {
		return nil, "", fmt.Errorf("expiry candidates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c       rules.Cert
			hosts   string
			payload []byte
		)
		if err := rows.Scan(&c.SHA256, &c.TBSSHA256, &c.Subject, &c.Issuer, &c.IssuerCA, &c.Serial, &hosts,
			dbTime{&c.NotBefore}, dbTime{&c.NotAfter}, dbTime{&c.EffectiveNotAfter}, &payload); err != nil {
			return nil, "", fmt.Errorf("expiry candidates: %w", err)
		}
		if c.Hosts, err = parseList(hosts); err != nil {
			return nil, "", fmt.Errorf("expiry candidates: %w", err)
		}
		// The key an spkiSha256 authorization names is only in the payload.
		var p events.Certificate
		if json.Unmarshal(payload, &p) == nil {
			c.SPKISHA256 = strings.ToLower(p.SPKISHA256)
		}
		out = append(out, ExpiryCandidate{Cert: c})
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("expiry candidates: %w", err)
	}
	rows.Close()
	if len(out) == expiryPage {
		next = out[len(out)-1].Cert.SHA256
	}
	if err := s.alertedThresholds(ctx, out); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// alertedThresholds fills in the expiringSoon thresholds already recorded for each candidate.
func (s *Store) alertedThresholds(ctx context.Context, cs []ExpiryCandidate) error {
	if len(cs) == 0 {
		return nil
	}
	idx := map[string][]int{}
	issuances := make([]string, 0, len(cs))
	for i, c := range cs {
		if len(idx[c.Cert.TBSSHA256]) == 0 {
			issuances = append(issuances, c.Cert.TBSSHA256)
		}
		idx[c.Cert.TBSSHA256] = append(idx[c.Cert.TBSSHA256], i)
	}
	var a args
	prefix := string(rules.TypeExpiringSoon) + "/"
	rows, err := s.read.QueryContext(ctx, "SELECT tbs_sha256, dedup_type FROM findings WHERE type = "+a.add(string(rules.TypeExpiringSoon))+
		" AND tbs_sha256 IN ("+a.addAll(issuances)+")", a.vals...)
	if err != nil {
		return fmt.Errorf("alerted expiry thresholds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tbs, dedup string
		if err := rows.Scan(&tbs, &dedup); err != nil {
			return fmt.Errorf("alerted expiry thresholds: %w", err)
		}
		days, err := strconv.Atoi(strings.TrimPrefix(dedup, prefix))
		if err != nil {
			continue // not written by this code; never blocks a threshold
		}
		for _, i := range idx[tbs] {
			cs[i].Alerted = append(cs[i].Alerted, days)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("alerted expiry thresholds: %w", err)
	}
	return nil
}
