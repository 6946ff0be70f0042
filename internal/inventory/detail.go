package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// CertificateDetail is one certificate with its full payload, its twins (the precertificate or
// certificate of the same issuance: same tbsSha256), the CT entries of the whole issuance and what
// zlint found on it (null until the lint stage linted it).
type CertificateDetail struct {
	Certificate
	Payload   json.RawMessage `json:"payload"`
	Twins     []Certificate   `json:"twins"`
	CTEntries []CTEntry       `json:"ctEntries"`
	Lints     *CertLints      `json:"lints"`
}

// Certificate returns the certificate with this sha256 (hex, any case), or ErrNotFound.
func (s *Store) Certificate(ctx context.Context, sha256 string) (CertificateDetail, error) {
	sha256 = strings.ToLower(sha256)
	items, err := s.queryCertificates(ctx, "SELECT "+certSelect+" FROM certificates c WHERE c.sha256 = $1", sha256)
	if err != nil {
		return CertificateDetail{}, fmt.Errorf("get certificate: %w", err)
	}
	if len(items) == 0 {
		return CertificateDetail{}, fmt.Errorf("certificate %s: %w", sha256, ErrNotFound)
	}
	d := CertificateDetail{Certificate: items[0]}
	var (
		payload  []byte
		issuance string
	)
	err = s.read.QueryRowContext(ctx, "SELECT payload, issuance FROM certificates WHERE sha256 = $1", sha256).Scan(&payload, &issuance)
	if errors.Is(err, sql.ErrNoRows) {
		return CertificateDetail{}, fmt.Errorf("certificate %s: %w", sha256, ErrNotFound)
	}
	if err != nil {
		return CertificateDetail{}, fmt.Errorf("get certificate payload: %w", err)
	}
	d.Payload = payload
	if d.Twins, err = s.queryCertificates(ctx, "SELECT "+certSelect+
		" FROM certificates c WHERE c.issuance = $1 AND c.sha256 <> $2 ORDER BY c.precert DESC, c.sha256", issuance, sha256); err != nil {
		return CertificateDetail{}, fmt.Errorf("get certificate twins: %w", err)
	}
	if d.CTEntries, err = s.queryEntries(ctx, "SELECT "+entrySelect+
		" FROM ct_entries e WHERE e.sha256 IN (SELECT sha256 FROM certificates WHERE issuance = $1)"+
		" ORDER BY e.logged_at, e.log, e.log_index", issuance); err != nil {
		return CertificateDetail{}, fmt.Errorf("get certificate ct entries: %w", err)
	}
	if d.Lints, err = s.certLints(ctx, sha256); err != nil {
		return CertificateDetail{}, err
	}
	return d, nil
}
