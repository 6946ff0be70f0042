package inventory

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStorableText(t *testing.T) {
	assert.Equal(t, "CN=a\uFFFDb", storable("CN=a\x00b"))
	assert.Equal(t, "\uFFFD bad", storable("\xff bad"))
	assert.Equal(t, "plain", storable("plain"))
	for in, want := range map[string]string{
		`{"s":"a\u0000b"}`:         `{"s":"a\ufffdb"}`,
		`{"s":"a\\u0000b"}`:        `{"s":"a\\u0000b"}`, // an escaped backslash, then text
		`{"s":"\\\u0000"}`:         `{"s":"\\\ufffd"}`,
		`{"s":"\u00001","t":"\n"}`: `{"s":"\ufffd1","t":"\n"}`,
	} {
		got := storableJSON(in)
		assert.Equal(t, want, got, in)
		assert.True(t, json.Valid([]byte(got)), got)
	}
}

// Names in CT logs are hostile: a NUL byte or invalid UTF-8 in a subject, a host, a CT entry or a
// finding's detail is stored (PostgreSQL's text and jsonb hold neither) and reads back the same
// from both databases, with U+FFFD in its place.
func TestHostileTextIsStored(t *testing.T) {
	got := map[string]CertificateDetail{}
	backends(t, func(t *testing.T, s *Store) {
		now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		c := testCert("nul", now, now.AddDate(0, 0, 90), "\x03\x19\x00", "ok.example", "bad\xff.example")
		c.Subject, c.Issuer = "CN=a\x00b", "CN=\xffCA"
		c.Payload = []byte(`{"sha256":"` + c.SHA256 + `","subject":"CN=a\u0000b","hosts":["\u0003\u0019\u0000"]}`)
		e := &EntryRow{Log: "log\x00", Index: 1, SHA256: c.SHA256, TBSSHA256: c.TBSSHA256, LoggedAt: now,
			Subject: c.Subject, Issuer: c.Issuer, Hosts: c.Hosts, MatchedHosts: []string{}}
		f := FindingRow{TBSSHA256: c.TBSSHA256, DedupType: "wildcard", Type: "wildcard", SHA256: c.SHA256,
			Detail: "wildcard name in \x03\x19\x00", Alert: []byte(`{"detail":"\u0000"}`), CreatedAt: now}
		write(t, s, Write{Cert: c, Entry: e, Findings: []FindingRow{f}})

		d, err := s.Certificate(context.Background(), c.SHA256)
		require.NoError(t, err)
		assert.Equal(t, "CN=a\uFFFDb", d.Subject)
		assert.Equal(t, "CN=\uFFFDCA", d.Issuer)
		require.Len(t, d.CTEntries, 1)
		assert.Equal(t, "log\uFFFD", d.CTEntries[0].Log)
		var payload struct{ Subject string }
		require.NoError(t, json.Unmarshal(d.Payload, &payload))
		assert.Equal(t, "CN=a\uFFFDb", payload.Subject)
		rows, err := s.UnpublishedOldest(context.Background(), time.Now(), 10)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		got[t.Name()] = d
	})
	if sq, pg := got["TestHostileTextIsStored/sqlite"], got["TestHostileTextIsStored/postgres"]; pg.SHA256 != "" {
		sq.Payload, pg.Payload = nil, nil // jsonb reorders keys
		assert.Equal(t, sq, pg, "both databases store the same")
	}
}
