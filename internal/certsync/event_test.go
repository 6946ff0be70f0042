package certsync

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
	"github.com/hzhook/hzhook/internal/queue"
)

func TestEvent(t *testing.T) {
	cert, err := hardenizetest.NewCert(hardenizetest.CertSpec{})
	require.NoError(t, err)
	raw, err := json.Marshal(cert)
	require.NoError(t, err)
	rec := hardenize.CertRecord{Certificate: cert, Raw: raw}
	asOf := time.Date(2026, 5, 1, 3, 4, 5, 678901234, time.UTC)

	se, msg, err := Event(org, rec, asOf, asOf.Add(time.Minute), queue.SourceSync, true)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^[1-9][0-9]{0,18}$`), se.EventID)
	assert.Equal(t, "demo/certs/"+se.EventID, se.MsgID())
	ev, err := events.ParseEnvelope(msg.Data)
	require.NoError(t, err, "a Hardenize envelope the workers accept")
	assert.Equal(t, events.TypeCertNew, ev.Type)
	assert.Equal(t, se.EventID, ev.ID)
	assert.Equal(t, asOf.Truncate(time.Millisecond), ev.CreatedOn)
	assert.JSONEq(t, string(raw), string(ev.Data), "data is the certificate object as listed")
	got, _, _, err := events.DecodeCertificate(ev)
	require.NoError(t, err)
	assert.Equal(t, cert.SHA256, got.SHA256)
	assert.Equal(t, queue.Subject(events.TypeCertNew), msg.Subject)
	assert.Equal(t, queue.SourceSync, msg.Header.Get(queue.HeaderSource))
	assert.Equal(t, HookID, msg.Header.Get(queue.HeaderHookID))
	assert.Empty(t, msg.Header.Get(queue.HeaderAlerts))

	_, quiet, err := Event(org, rec, asOf, asOf, queue.SourceImport, false)
	require.NoError(t, err)
	assert.Equal(t, queue.AlertsOff, quiet.Header.Get(queue.HeaderAlerts))

	// The id depends on the content, not on its formatting, nor on when it was listed.
	indented, err := json.MarshalIndent(cert, "", "   ")
	require.NoError(t, err)
	id2, err := EventID(cert.SHA256, indented)
	require.NoError(t, err)
	assert.Equal(t, se.EventID, id2)
	later, _, err := Event(org, rec, asOf.AddDate(0, 0, 1), asOf, queue.SourceSync, true)
	require.NoError(t, err)
	assert.Equal(t, se.MsgID(), later.MsgID())
	revoked := cert
	revoked.RevokedOn = &asOf
	rraw, err := json.Marshal(revoked)
	require.NoError(t, err)
	id3, err := EventID(cert.SHA256, rraw)
	require.NoError(t, err)
	assert.NotEqual(t, se.EventID, id3, "a changed certificate is a new event")
	other, err := EventID(hexOf('f'), raw)
	require.NoError(t, err)
	assert.NotEqual(t, se.EventID, other)

	_, err = EventID(cert.SHA256, json.RawMessage(`{"broken"`))
	require.Error(t, err)
}

func hexOf(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
