package pubsub

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The seed's examples: one EventDestination, and the GET /eventDestinations answer holding it.
func TestParseDestinationSeedExamples(t *testing.T) {
	for _, file := range []string{"destination.json", "event_destinations.json"} {
		t.Run(file, func(t *testing.T) {
			d, err := LoadDestination(filepath.Join("testdata", file))
			require.NoError(t, err)
			assert.Equal(t, "pubsub://events/1/1005", d.DestinationID)
			assert.Equal(t, "hz-events-pubsub", d.Project)
			assert.Equal(t, "ep-1-1005", d.Subscription)
			assert.Equal(t, "projects/hz-events-pubsub/topics/ep-1-1005", d.Topic)
			require.NoError(t, CheckCredentials([]byte(d.SubscriberCredentials)))
			assert.Contains(t, d.SubscriberCredentials, `{"type": "service_account", `, "the JSON string is unquoted once: the key file itself")
		})
	}
}

func TestParseDestinationRefusals(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", `project: x`, "not a JSON event destination"},
		{"webhook type", `{"type":"webhook","project":"p","subscription":"s"}`, `"webhook" is not "pubsub"`},
		{"no project", `{"type":"pubsub","subscription":"s"}`, "lacks [project]"},
		{"no subscription", `{"type":"pubsub","project":"p"}`, "lacks [subscription]"},
		{"no pubsub destination", `{"eventDestinations":[]}`, "holds 0 destinations"},
		{"two pubsub destinations", `{"eventDestinations":[{"type":"pubsub","project":"p","subscription":"a"},{"type":"pubsub","project":"p","subscription":"b"}]}`, "holds 2 destinations"},
		{"credentials not a key", `{"type":"pubsub","project":"p","subscription":"s","subscriberCredentials":"{\"private_key\":\"SECRET\"}"}`, "not service_account"},
		{"credentials not JSON", `{"type":"pubsub","project":"p","subscription":"s","subscriberCredentials":"SECRET"}`, "not a JSON service-account key"},
		{"credentials a number", `{"type":"pubsub","project":"p","subscription":"s","subscriberCredentials":42}`, "neither a JSON string nor an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDestination([]byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "SECRET", "errors never quote the credentials")
		})
	}
}

func TestParseDestinationAccepts(t *testing.T) {
	key := `{"type":"service_account","private_key":"k"}`
	tests := []struct {
		name, doc, sub, creds string
	}{
		{"credentials as an object", `{"type":"pubsub","project":"p","subscription":"s","subscriberCredentials":` + key + `}`, "s", key},
		{"no credentials (emulator)", `{"type":"pubsub","project":"p","subscription":"s"}`, "s", ""},
		{"list with other types", `{"eventDestinations":[{"type":"other"},{"type":"pubsub","project":"p","subscription":"x"}]}`, "x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDestination([]byte(tc.doc))
			require.NoError(t, err)
			assert.Equal(t, tc.sub, d.Subscription)
			assert.Equal(t, tc.creds, d.SubscriberCredentials)
		})
	}
}

func TestDestinationLogValueOmitsCredentials(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "destination.json"))
	require.NoError(t, err)
	d, err := ParseDestination(data)
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("configured", "destination", d)
	assert.Contains(t, buf.String(), "ep-1-1005")
	assert.NotContains(t, buf.String(), "PRIVATE KEY")
	assert.NotContains(t, buf.String(), "private_key_id")
}
