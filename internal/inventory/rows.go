package inventory

import (
	"strings"
	"time"
)

// Rank of a certificate row (CertRow.Detail): a row described by pki.cert.new is never replaced by
// one built from a ct.entry leaf.
const (
	DetailCTLeaf  = 0
	DetailCertNew = 1
)

// Write is everything one event changes, applied with the others of its batch in one transaction
// by Store.Apply.
type Write struct {
	Event    EventRow
	Cert     *CertRow  // nil when the event describes no certificate
	Entry    *EntryRow // nil unless the event is a ct.entry
	Findings []FindingRow
}

// EventRow is one received event (received_events): the earliest receipt keeps its time and
// source.
type EventRow struct {
	Org, HookID, ID, Type string
	CreatedOn             time.Time
	Source                string
	ReceivedAt            time.Time
}

// CertRow is one certificate or precertificate (certificates), merged with the stored row in an
// order-independent way (see the package documentation). Hosts are lowercased.
type CertRow struct {
	SHA256, TBSSHA256                      string // TBSSHA256 "" when unknown
	Detail                                 int    // DetailCTLeaf or DetailCertNew
	Subject, Issuer, IssuerCA, Serial      string
	NotBefore, NotAfter, EffectiveNotAfter time.Time
	Hosts                                  []string
	KeyAlg                                 string
	KeyLen, KeyStrength                    int
	SigAlg                                 string
	Wildcard, SelfSigned, Precert          bool
	Ownership                              string
	MatchesOrgHost                         bool
	Origin                                 string
	FirstSeen, LastSeen                    time.Time
	Payload                                []byte // the certificate JSON (events.Certificate)
	// ObservedAt is when the data was true: the event's createdOn (for an import or a sync, when
	// the API's listing was taken). It breaks ties of rank and lastSeen: the later copy wins.
	ObservedAt time.Time
	// ReceivedVia is the Hz-Source of the event (webhook, pubsub, backfill, import, sync).
	ReceivedVia string
}

// EntryRow is one CT log entry (ct_entries); a (log, index) is written once.
type EntryRow struct {
	Log                 string
	Index               int64
	SHA256, TBSSHA256   string
	Precert             bool
	LoggedAt            time.Time
	Subject, Issuer     string
	Hosts, MatchedHosts []string
}

// FindingRow is a finding to store with its alert, the outbox message (findings). The first
// finding of an issuance and DedupType wins.
type FindingRow struct {
	TBSSHA256, DedupType, Type, SHA256, Detail, WatchItem string
	ThresholdDays                                         int
	Alert                                                 []byte // JSON alerts.Alert
	CreatedAt                                             time.Time
	Lints                                                 []string // lintError only: the lints that alerted
	// Suppressed findings are recorded without an alert: the outbox never publishes them (the
	// findings of an import, which are history). Within one batch an alerting finding wins over a
	// suppressed one of the same key.
	Suppressed bool
	// TraceParent is the W3C traceparent of the event message that made the finding ("": not
	// traced); its alert is published in that trace.
	TraceParent string
}

// Ms is the precision both databases keep (Hardenize's own precision too): times handed to the
// store are truncated to it.
func Ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// NormalizeHost is a host name as the inventory stores and matches it: trimmed, lowercased,
// without a trailing dot.
func NormalizeHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
}
