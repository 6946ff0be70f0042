package events

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regenerate the fixtures with: go test ./internal/events/ -run TestFixtures -update
var update = flag.Bool("update", false, "rewrite testdata fixtures from Sample")

// fixtureTime is the createdOn of the generated fixtures; their leaves are
// valid from an hour before it for 90 days. Tests using them should pin
// their clock near it.
var fixtureTime = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fixtures are complete webhook bodies for other packages' tests and hzctl:
// compact, no trailing newline, byte-for-byte what Hardenize would post.
var fixtures = []struct {
	file string
	typ  string
	gen  func() ([]byte, error)
}{
	{"test.json", TypeTest, func() ([]byte, error) { return []byte(seedTestEvent), nil }},
	{"ct_entry.json", TypeCTEntry, func() ([]byte, error) { return Sample(TypeCTEntry, 10001, fixtureTime) }},
	{"pki_cert_new.json", TypeCertNew, func() ([]byte, error) { return Sample(TypeCertNew, 10002, fixtureTime) }},
	{"ct_entry_string_data.json", TypeCTEntry, func() ([]byte, error) { return stringDataForm(Sample(TypeCTEntry, 10003, fixtureTime)) }},
}

// stringDataForm rewrites a body into the events-API form, where data is a
// JSON string holding the payload.
func stringDataForm(body []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	s, err := json.Marshal(string(m["data"]))
	if err != nil {
		return nil, err
	}
	m["data"] = s
	return json.Marshal(m)
}

func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			path := filepath.Join("testdata", fx.file)
			if *update {
				body, err := fx.gen()
				require.NoError(t, err)
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, body, 0o644))
			}
			body, err := os.ReadFile(path)
			require.NoError(t, err)

			ev, err := ParseEnvelope(body)
			require.NoError(t, err)
			assert.Equal(t, fx.typ, ev.Type)
			if fx.typ != TypeTest {
				assert.Equal(t, fixtureTime, ev.CreatedOn)
			}

			switch fx.typ {
			case TypeCTEntry:
				entry, leaf, parseErr, err := DecodeCTEntry(ev)
				require.NoError(t, err)
				require.NoError(t, parseErr)
				assert.Equal(t, hexSum(leaf.RawTBSCertificate), entry.TBSSHA256)
				assert.True(t, leaf.NotAfter.After(fixtureTime))
			case TypeCertNew:
				c, leaf, parseErr, err := DecodeCertificate(ev)
				require.NoError(t, err)
				require.NoError(t, parseErr)
				assert.Equal(t, c.NotAfter, leaf.NotAfter)
			case TypeTest:
				var msg TestMessage
				require.NoError(t, json.Unmarshal(ev.Data, &msg))
				assert.NotEmpty(t, msg.Message)
			}
		})
	}
}
