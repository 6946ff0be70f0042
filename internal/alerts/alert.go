package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/hzhook/hzhook/internal/rules"
)

// Alert is the message published on HZ_ALERTS and the JSON body the webhook sink sends.
// Its fields are an API for receivers of the webhook: add, never rename.
type Alert struct {
	// ID identifies the finding of one issuance: hex SHA-256 of tbsSha256 + "/" + dedup type. It
	// is the Nats-Msg-Id and the webhook's Idempotency-Key, so a receiver can drop repeats.
	ID        string      `json:"id"`
	Type      rules.Type  `json:"type"`
	Detail    string      `json:"detail"`
	WatchItem string      `json:"watchItem,omitempty"`
	Threshold int         `json:"thresholdDays,omitempty"`
	CreatedAt time.Time   `json:"createdAt"`
	Cert      CertSummary `json:"certificate"`
	// Lints are the zlint lints whose results alerted, most severe first (lintError only).
	Lints []string `json:"lints,omitempty"`
}

// CertSummary is what an operator needs to recognise the certificate an alert is about.
type CertSummary struct {
	SHA256            string    `json:"sha256"`
	TBSSHA256         string    `json:"tbsSha256"`
	SPKISHA256        string    `json:"spkiSha256,omitempty"`
	Serial            string    `json:"serial,omitempty"`
	Subject           string    `json:"subject,omitempty"`
	Issuer            string    `json:"issuer,omitempty"`
	IssuerCA          string    `json:"issuerCa,omitempty"`
	Hosts             []string  `json:"hosts"`
	NotBefore         time.Time `json:"notBefore,omitzero"`
	NotAfter          time.Time `json:"notAfter,omitzero"`
	EffectiveNotAfter time.Time `json:"effectiveNotAfter,omitzero"`
	Precert           bool      `json:"precert"`
	Malformed         bool      `json:"malformed,omitempty"`
}

// ID returns the alert id of a finding: hex SHA-256 of tbsSha256 + "/" + dedupType.
func ID(tbsSHA256, dedupType string) string {
	sum := sha256.Sum256([]byte(tbsSHA256 + "/" + dedupType))
	return hex.EncodeToString(sum[:])
}

// New builds the alert of finding f on certificate c, created at now.
func New(f rules.Finding, c rules.Cert, now time.Time) Alert {
	hosts := c.Hosts
	if hosts == nil {
		hosts = []string{}
	}
	return Alert{
		ID:        ID(f.TBSSHA256, f.DedupType()),
		Type:      f.Type,
		Detail:    f.Detail,
		WatchItem: f.WatchItem,
		Threshold: f.ThresholdDays,
		CreatedAt: now.UTC(),
		Cert: CertSummary{
			SHA256: f.SHA256, TBSSHA256: f.TBSSHA256, SPKISHA256: c.SPKISHA256, Serial: c.Serial,
			Subject: c.Subject, Issuer: c.Issuer, IssuerCA: c.IssuerCA, Hosts: hosts,
			NotBefore: c.NotBefore, NotAfter: c.NotAfter, EffectiveNotAfter: c.EffectiveNotAfter,
			Precert: c.Precert, Malformed: c.Malformed,
		},
		Lints: f.Lints,
	}
}
