package certsync

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/queue"
)

// HookID is the X-Hardenize-EventHookId of the events certsync builds: they came through no hook,
// and this keeps their ids apart from every real hook's.
const HookID = "certs"

// EventID is the id of the event of a certificate with this lowercase hex sha256 and payload
// (the certificate object's JSON): a decimal of 63 bits of SHA-256 over the sha256 and the
// payload's canonical form (keys sorted, no insignificant space), so the same certificate
// listed again with the same content has the same id whatever the formatting, and any change of
// content gives another id.
func EventID(sha256Hex string, payload json.RawMessage) (string, error) {
	canon, err := canonical(payload)
	if err != nil {
		return "", fmt.Errorf("event id of certificate %s: %w", sha256Hex, err)
	}
	h := sha256.New()
	h.Write([]byte(strings.ToLower(sha256Hex)))
	h.Write([]byte{'\n'})
	h.Write(canon)
	n := binary.BigEndian.Uint64(h.Sum(nil)[:8]) &^ (1 << 63)
	if n == 0 {
		n = 1 // id 0 is Hardenize's test events'
	}
	return strconv.FormatUint(n, 10), nil
}

// canonical re-encodes a JSON value with sorted keys and numbers as written.
func canonical(raw json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Event is the stored event of one listed certificate: a pki.cert.new envelope around rec.Raw,
// created at asOf (when the listing was requested), from source (queue.SourceImport or
// queue.SourceSync), with Hz-Alerts: off unless alerts. receivedAt is the Hz-Received-At.
func Event(org string, rec hardenize.CertRecord, asOf, receivedAt time.Time, source string, alerts bool) (queue.StoredEvent, *nats.Msg, error) {
	id, err := EventID(rec.Certificate.SHA256, rec.Raw)
	if err != nil {
		return queue.StoredEvent{}, nil, err
	}
	var b bytes.Buffer
	b.Grow(len(rec.Raw) + 96)
	b.WriteString(`{"id":`)
	b.WriteString(id)
	b.WriteString(`,"type":"` + events.TypeCertNew + `","createdOn":"`)
	b.WriteString(asOf.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(`","data":`)
	b.Write(bytes.TrimSpace(rec.Raw))
	b.WriteByte('}')
	se := queue.StoredEvent{
		Org: org, HookID: HookID, EventID: id, Type: events.TypeCertNew, Source: source,
		ReceivedAt: receivedAt, Body: b.Bytes(),
	}
	msg := se.Msg()
	if !alerts {
		msg.Header.Set(queue.HeaderAlerts, queue.AlertsOff)
	}
	return se, msg, nil
}
