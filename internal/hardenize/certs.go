package hardenize

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/events"
)

// CertsQuery filters ListCerts (GET /certs). The API combines the filters that are set with AND;
// nil and zero fields are left out. Booleans and ExpireInDays are pointers because false and 0 are
// filters too: Active: new(false) asks for inactive certificates.
type CertsQuery struct {
	// Active: only certificates seen installed recently (true) or not (false).
	Active *bool
	// Expired: only expired (true) or unexpired (false) certificates.
	Expired *bool
	// ExpireInDays: only certificates already expired or expiring within this many days, by
	// effectiveNotAfter.
	ExpireInDays *int
	// Host: only certificates valid for this host, by exact name or by a wildcard for its parent
	// (blog.example.com finds *.example.com).
	Host string
	// Limit: at most this many certificates; all when 0.
	Limit int
	// NewSince: only certificates added to the account since this time. Per the seed it covers
	// additions only: a certificate revoked, seen installed or otherwise changed later is not
	// returned again (see ListCertsPages for picking up changes).
	NewSince time.Time
	// SPKISHA256: only certificates whose public key has this hex SHA-256.
	SPKISHA256 string
}

// CertRecord is one certificate object of the API (the seed's Certificate schema, the same as the
// pki.cert.new payload), decoded and checked by events.DecodeCertificate.
type CertRecord struct {
	Certificate events.Certificate
	// X509 is the parsed certificate; nil when crypto/x509 refuses the DER, and ParseErr says why
	// (such a certificate is still a valid record, as it is a valid pki.cert.new event).
	X509     *x509.Certificate
	ParseErr error
	// Raw is the object exactly as the API sent it: what the inventory stores as the payload.
	Raw json.RawMessage
}

// RejectedCert is a certificate object events.DecodeCertificate refused (for example a pem whose
// SHA-256 is not sha256). Err is a *events.PermanentError; Index is the object's position in the
// answer or page.
type RejectedCert struct {
	Index int
	Raw   json.RawMessage
	Err   error
}

// CertList is the answer of ListCerts.
type CertList struct {
	Certs    []CertRecord
	Rejected []RejectedCert
	// AsOf is the client's clock just before the request was sent. For a "new since" sync, the
	// next query's NewSince is AsOf minus an overlap for clock skew and the API's own delay;
	// certificates seen twice are harmless to an upserting store.
	AsOf time.Time
}

// ListCerts lists the certificates matching q with GET /certs. The API does not paginate this
// endpoint: the whole answer arrives at once (at most 32 MiB are read), so ListCertsPages is the
// way to read a whole large account.
func (c *Client) ListCerts(ctx context.Context, q CertsQuery) (CertList, error) {
	v, err := q.values()
	if err != nil {
		return CertList{}, fmt.Errorf("list certificates: %w", err)
	}
	asOf := c.opts.Now()
	var r struct {
		Certs []json.RawMessage `json:"certs"`
	}
	if err := c.do(ctx, http.MethodGet, "certs", v, nil, &r); err != nil {
		return CertList{}, fmt.Errorf("list certificates: %w", err)
	}
	certs, rejected := decodeCerts(r.Certs)
	return CertList{Certs: certs, Rejected: rejected, AsOf: asOf}, nil
}

// GetCert returns the certificate with the given hex SHA-256 (GET /certs/{sha256}). A certificate
// the account does not have is a 404 *APIError (IsNotFound); one that DecodeCertificate refuses is
// a *events.PermanentError.
func (c *Client) GetCert(ctx context.Context, sha256 string) (CertRecord, error) {
	sum, err := hex.DecodeString(sha256)
	if err != nil || len(sum) != 32 {
		return CertRecord{}, fmt.Errorf("get certificate %q: not a hex SHA-256 (64 hex digits)", sha256)
	}
	sha256 = hex.EncodeToString(sum)
	var r struct {
		Cert json.RawMessage `json:"cert"`
	}
	if err := c.do(ctx, http.MethodGet, "certs/"+sha256, nil, nil, &r); err != nil {
		return CertRecord{}, fmt.Errorf("get certificate %s: %w", sha256, err)
	}
	if len(r.Cert) == 0 {
		return CertRecord{}, fmt.Errorf("get certificate %s: answer has no cert", sha256)
	}
	rec, err := decodeCert(r.Cert)
	if err != nil {
		return CertRecord{}, fmt.Errorf("get certificate %s: %w", sha256, err)
	}
	if rec.Certificate.SHA256 != sha256 {
		return CertRecord{}, fmt.Errorf("get certificate %s: answer is certificate %s", sha256, rec.Certificate.SHA256)
	}
	return rec, nil
}

func (q CertsQuery) values() (url.Values, error) {
	v := url.Values{}
	if q.Active != nil {
		v.Set("active", strconv.FormatBool(*q.Active))
	}
	if q.Expired != nil {
		v.Set("expired", strconv.FormatBool(*q.Expired))
	}
	if q.ExpireInDays != nil {
		if *q.ExpireInDays < 0 {
			return nil, errors.New("expireInDays is negative")
		}
		v.Set("expireInDays", strconv.Itoa(*q.ExpireInDays))
	}
	if q.Host != "" {
		v.Set("host", q.Host)
	}
	if q.Limit < 0 {
		return nil, errors.New("limit is negative")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if !q.NewSince.IsZero() {
		v.Set("newSince", q.NewSince.UTC().Format(time.RFC3339Nano))
	}
	if q.SPKISHA256 != "" {
		v.Set("spkiSha256", strings.ToLower(q.SPKISHA256))
	}
	return v, nil
}

// decodeCerts decodes the certificate objects of an answer, keeping the ones DecodeCertificate
// refuses apart so that one bad object does not lose the others.
func decodeCerts(raws []json.RawMessage) ([]CertRecord, []RejectedCert) {
	certs := make([]CertRecord, 0, len(raws))
	var rejected []RejectedCert
	for i, raw := range raws {
		rec, err := decodeCert(raw)
		if err != nil {
			rejected = append(rejected, RejectedCert{Index: i, Raw: raw, Err: err})
			continue
		}
		certs = append(certs, rec)
	}
	return certs, rejected
}

func decodeCert(raw json.RawMessage) (CertRecord, error) {
	c, parsed, parseErr, err := events.DecodeCertificate(events.Event{Type: events.TypeCertNew, Data: raw})
	if err != nil {
		return CertRecord{}, err
	}
	return CertRecord{Certificate: c, X509: parsed, ParseErr: parseErr, Raw: raw}, nil
}
