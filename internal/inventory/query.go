package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Certificate is one inventory certificate as the read API shows it. FirstSeen and LastSeen are
// the earliest and latest seen over every event of the winning source.
type Certificate struct {
	SHA256         string    `json:"sha256"`
	TBSSHA256      string    `json:"tbsSha256"`
	Subject        string    `json:"subject"`
	Issuer         string    `json:"issuer"`
	IssuerCA       string    `json:"issuerCa"`
	Serial         string    `json:"serial"`
	NotBefore      time.Time `json:"notBefore"`
	NotAfter       time.Time `json:"notAfter"`
	Hosts          []string  `json:"hosts"`
	KeyAlg         string    `json:"keyAlg"`
	KeyLen         int       `json:"keyLen"`
	KeyStrength    int       `json:"keyStrength"`
	SigAlg         string    `json:"sigAlg"`
	Wildcard       bool      `json:"wildcard"`
	SelfSigned     bool      `json:"selfSigned"`
	Precert        bool      `json:"precert"`
	Ownership      string    `json:"ownership"`
	MatchesOrgHost bool      `json:"matchesOrgHost"`
	Origin         string    `json:"origin"`
	FirstSeen      time.Time `json:"firstSeen"`
	LastSeen       time.Time `json:"lastSeen"`
	// Source is the event type that described the row: "pki.cert.new", or "ct.entry" when only a
	// CT entry's leaf is known so far.
	Source string `json:"source"`
	// ReceivedVia is how that event reached hzhook: webhook, pubsub, backfill, import (hzctl certs
	// import) or sync (the worker's certificate sync); empty for rows stored before it was kept.
	ReceivedVia string `json:"receivedVia"`
}

// CTEntry is one CT log entry of a certificate.
type CTEntry struct {
	Log          string    `json:"log"`
	Index        int64     `json:"index"`
	SHA256       string    `json:"sha256"`
	TBSSHA256    string    `json:"tbsSha256"`
	Precert      bool      `json:"precert"`
	Timestamp    time.Time `json:"timestamp"`
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	Hosts        []string  `json:"hosts"`
	MatchedHosts []string  `json:"matchedHosts"`
}

// Page is one page of a list and the number of items of the whole list.
type Page[T any] struct {
	Items []T
	Total int
}

// Sort orders a list by one of its sort keys; ties are broken by the row key.
type Sort struct {
	Key  string
	Desc bool
}

// CertificateSortKeys are the keys certificate lists sort by.
func CertificateSortKeys() []string {
	return []string{"notAfter", "notBefore", "firstSeen", "lastSeen", "subject", "issuer", "keyLen"}
}

// CTEntrySortKeys are the keys CT entry lists sort by.
func CTEntrySortKeys() []string { return []string{"timestamp", "index"} }

// Ownership filter values: Hardenize's own and thirdParty, and unknown for rows known only from CT.
const (
	OwnershipOwn        = "own"
	OwnershipThirdParty = "thirdParty"
	OwnershipUnknown    = "unknown"
)

// CertificateQuery filters, sorts and pages a certificate list. Zero values do not filter.
type CertificateQuery struct {
	Q                 string // case-insensitive text in subject, issuer or a host
	Host              string // exact host, or a wildcard covering it: www.example.com finds *.example.com
	Issuer            string // case-insensitive text in issuer or issuerCa
	Precert           *bool
	Ownership         string // OwnershipOwn, OwnershipThirdParty or OwnershipUnknown
	ExpiresWithinDays *int   // not yet expired at Now, expiring before Now + days
	// Finding selects certificates whose issuance has a finding of this type (rules.Type).
	Finding        string
	Now            time.Time
	Sort           Sort
	Page, PageSize int // from 1

	// Lint selects certificates with a stored result of this zlint lint; LintStatus those with a
	// result of this status (LintStatuses); both, a result of that lint with that status.
	Lint, LintStatus string
}

// CTEntryQuery filters, sorts and pages a CT entry list. Zero values do not filter.
type CTEntryQuery struct {
	SHA256         string
	Log            string
	Host           string // as CertificateQuery.Host
	Sort           Sort
	Page, PageSize int
}

const certSelect = `c.sha256, c.tbs_sha256, c.detail, c.subject, c.issuer, c.issuer_ca, c.serial, c.not_before,
c.not_after, c.hosts, c.key_alg, c.key_len, c.key_strength, c.sig_alg, c.wildcard, c.self_signed, c.precert,
c.ownership, c.matches_org_host, c.origin, c.first_seen, c.last_seen, c.received_via`

// ListCertificates returns one page of the certificates q selects.
func (s *Store) ListCertificates(ctx context.Context, q CertificateQuery) (Page[Certificate], error) {
	col, ok := map[string]string{
		"notAfter": "not_after", "notBefore": "not_before", "firstSeen": "first_seen", "lastSeen": "last_seen",
		"subject": "subject", "issuer": "issuer", "keyLen": "key_len", "": "first_seen",
	}[q.Sort.Key]
	if !ok {
		return Page[Certificate]{}, fmt.Errorf("list certificates: unknown sort key %q", q.Sort.Key)
	}
	var a args
	var where []string
	if q.Q != "" {
		p := a.add(likePattern(q.Q))
		where = append(where, fmt.Sprintf(`(lower(c.subject) LIKE %[1]s ESCAPE '\' OR lower(c.issuer) LIKE %[1]s ESCAPE '\'
	OR EXISTS (SELECT 1 FROM cert_hosts h WHERE h.sha256 = c.sha256 AND h.host LIKE %[1]s ESCAPE '\'))`, p))
	}
	if q.Host != "" {
		// IN, not EXISTS: the few certificates of a host are found through cert_hosts' key, where a
		// correlated EXISTS probed it once per certificate.
		where = append(where, "c.sha256 IN (SELECT h.sha256 FROM cert_hosts h WHERE h.host IN ("+a.addAll(hostCandidates(q.Host))+"))")
	}
	if q.Issuer != "" {
		p := a.add(likePattern(q.Issuer))
		where = append(where, fmt.Sprintf(`(lower(c.issuer) LIKE %[1]s ESCAPE '\' OR lower(c.issuer_ca) LIKE %[1]s ESCAPE '\')`, p))
	}
	if q.Precert != nil {
		where = append(where, "c.precert = "+a.add(*q.Precert))
	}
	switch q.Ownership {
	case "":
	case OwnershipUnknown:
		where = append(where, "c.ownership = ''")
	default:
		where = append(where, "c.ownership = "+a.add(q.Ownership))
	}
	if q.ExpiresWithinDays != nil {
		now := Ms(q.Now)
		where = append(where, "c.not_after >= "+a.add(s.dialect.timeArg(now))+" AND c.not_after < "+
			a.add(s.dialect.timeArg(now.AddDate(0, 0, *q.ExpiresWithinDays))))
	}
	if q.Finding != "" {
		// A finding belongs to the issuance: the precertificate and the certificate both show it.
		where = append(where, "EXISTS (SELECT 1 FROM findings f WHERE f.tbs_sha256 IN (c.issuance, c.sha256) AND f.type = "+a.add(q.Finding)+")")
	}
	if q.Lint != "" || q.LintStatus != "" {
		where = append(where, lintFilter(&a, q.Lint, q.LintStatus))
	}
	from := "FROM certificates c" + whereClause(where)
	order := " ORDER BY c." + col + direction(q.Sort.Desc) + ", c.sha256"
	var out Page[Certificate]
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) "+from, a.vals...).Scan(&out.Total); err != nil {
		return Page[Certificate]{}, fmt.Errorf("count certificates: %w", err)
	}
	limit := a.add(q.PageSize)
	offset := a.add((q.Page - 1) * q.PageSize)
	items, err := s.queryCertificates(ctx, "SELECT "+certSelect+" "+from+order+" LIMIT "+limit+" OFFSET "+offset, a.vals...)
	if err != nil {
		return Page[Certificate]{}, fmt.Errorf("list certificates: %w", err)
	}
	out.Items = items
	return out, nil
}

// ListCTEntries returns one page of the CT entries q selects.
func (s *Store) ListCTEntries(ctx context.Context, q CTEntryQuery) (Page[CTEntry], error) {
	order, ok := map[string]string{
		"": "e.logged_at", "timestamp": "e.logged_at", "index": "e.log_index",
	}[q.Sort.Key]
	if !ok {
		return Page[CTEntry]{}, fmt.Errorf("list ct entries: unknown sort key %q", q.Sort.Key)
	}
	var a args
	var where []string
	if q.SHA256 != "" {
		where = append(where, "e.sha256 = "+a.add(strings.ToLower(q.SHA256)))
	}
	if q.Log != "" {
		where = append(where, "e.log = "+a.add(q.Log))
	}
	if q.Host != "" {
		where = append(where, "EXISTS (SELECT 1 FROM cert_hosts h WHERE h.sha256 = e.sha256 AND h.host IN ("+a.addAll(hostCandidates(q.Host))+"))")
	}
	from := "FROM ct_entries e" + whereClause(where)
	var out Page[CTEntry]
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) "+from, a.vals...).Scan(&out.Total); err != nil {
		return Page[CTEntry]{}, fmt.Errorf("count ct entries: %w", err)
	}
	limit := a.add(q.PageSize)
	offset := a.add((q.Page - 1) * q.PageSize)
	items, err := s.queryEntries(ctx, "SELECT "+entrySelect+" "+from+" ORDER BY "+order+direction(q.Sort.Desc)+
		", e.log, e.log_index LIMIT "+limit+" OFFSET "+offset, a.vals...)
	if err != nil {
		return Page[CTEntry]{}, fmt.Errorf("list ct entries: %w", err)
	}
	out.Items = items
	return out, nil
}

const entrySelect = `e.log, e.log_index, e.sha256, e.tbs_sha256, e.precert, e.logged_at, e.subject, e.issuer, e.hosts, e.matched_hosts`

func (s *Store) queryCertificates(ctx context.Context, query string, vals ...any) ([]Certificate, error) {
	rows, err := s.read.QueryContext(ctx, query, vals...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := []Certificate{}
	for rows.Next() {
		var (
			c      Certificate
			detail int
			hosts  string
		)
		if err := rows.Scan(&c.SHA256, &c.TBSSHA256, &detail, &c.Subject, &c.Issuer, &c.IssuerCA, &c.Serial,
			dbTime{&c.NotBefore}, dbTime{&c.NotAfter}, &hosts, &c.KeyAlg, &c.KeyLen, &c.KeyStrength, &c.SigAlg,
			&c.Wildcard, &c.SelfSigned, &c.Precert, &c.Ownership, &c.MatchesOrgHost, &c.Origin,
			dbTime{&c.FirstSeen}, dbTime{&c.LastSeen}, &c.ReceivedVia); err != nil {
			return nil, err
		}
		c.Source = "ct.entry"
		if detail == DetailCertNew {
			c.Source = "pki.cert.new"
		}
		if c.Hosts, err = parseList(hosts); err != nil {
			return nil, err
		}
		items = append(items, c)
	}
	return items, rows.Err()
}

func (s *Store) queryEntries(ctx context.Context, query string, vals ...any) ([]CTEntry, error) {
	rows, err := s.read.QueryContext(ctx, query, vals...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := []CTEntry{}
	for rows.Next() {
		var (
			e              CTEntry
			hosts, matched string
		)
		if err := rows.Scan(&e.Log, &e.Index, &e.SHA256, &e.TBSSHA256, &e.Precert, dbTime{&e.Timestamp},
			&e.Subject, &e.Issuer, &hosts, &matched); err != nil {
			return nil, err
		}
		if e.Hosts, err = parseList(hosts); err != nil {
			return nil, err
		}
		if e.MatchedHosts, err = parseList(matched); err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	return items, rows.Err()
}

func parseList(s string) ([]string, error) {
	out := []string{}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("decode host list: %w", err)
	}
	return out, nil
}

// hostCandidates are the stored host names that cover host: itself and, unless it is a wildcard
// itself, the wildcard one level up (*.example.com covers www.example.com, not example.com).
func hostCandidates(host string) []string {
	n := NormalizeHost(host)
	if n == "" {
		return []string{""}
	}
	h := []string{n}
	if !strings.HasPrefix(h[0], "*.") {
		if _, parent, ok := strings.Cut(h[0], "."); ok && strings.Contains(parent, ".") {
			h = append(h, "*."+parent)
		}
	}
	return h
}

// likePattern is a case-insensitive LIKE pattern for text anywhere, with \ % _ taken literally.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

type args struct{ vals []any }

// add appends a query argument; a string is made storable, as the text it is compared with was.
func (a *args) add(v any) string {
	if s, ok := v.(string); ok {
		v = storable(s)
	}
	a.vals = append(a.vals, v)
	return fmt.Sprintf("$%d", len(a.vals))
}

func (a *args) addAll(vs []string) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = a.add(v)
	}
	return strings.Join(ps, ", ")
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func direction(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}
