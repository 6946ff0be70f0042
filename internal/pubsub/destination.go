package pubsub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
)

// DestinationTypePubSub is the EventDestination type of a Hardenize-managed Pub/Sub destination.
const DestinationTypePubSub = "pubsub"

// Destination is one managed event destination exactly as Hardenize's GET /eventDestinations returns
// it (seed schema EventDestination). SubscriberCredentials is the service-account key JSON; it is a
// secret and never printed: Destination implements slog.LogValuer without it.
type Destination struct {
	DestinationID         string `json:"destinationId"`
	Type                  string `json:"type"`
	Project               string `json:"project"`
	Topic                 string `json:"topic"`
	Subscription          string `json:"subscription"`
	SubscriberCredentials string `json:"subscriberCredentials"`
}

// LogValue keeps the credentials out of logs.
func (d Destination) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("destinationId", d.DestinationID),
		slog.String("project", d.Project),
		slog.String("subscription", d.Subscription),
	)
}

// wireDestination accepts subscriberCredentials both as the documented JSON string and as a
// JSON object (a hand-edited file), and the list answer around it.
type wireDestination struct {
	DestinationID         string          `json:"destinationId"`
	Type                  string          `json:"type"`
	Project               string          `json:"project"`
	Topic                 string          `json:"topic"`
	Subscription          string          `json:"subscription"`
	SubscriberCredentials json.RawMessage `json:"subscriberCredentials"`

	EventDestinations []wireDestination `json:"eventDestinations"`
}

// ParseDestination reads one pubsub destination from data: either a single EventDestination object
// or the whole ListEventDestinationsResponse ({"eventDestinations":[...]}) when it holds exactly one
// destination of type pubsub. Project and subscription must be set; the credentials may be empty
// (the emulator needs none). Errors never quote the credentials.
func ParseDestination(data []byte) (Destination, error) {
	var w wireDestination
	if err := json.Unmarshal(data, &w); err != nil {
		return Destination{}, errors.New("not a JSON event destination (expected an EventDestination object or the GET /eventDestinations answer)")
	}
	if w.EventDestinations != nil {
		var found []wireDestination
		for _, d := range w.EventDestinations {
			if d.Type == DestinationTypePubSub {
				found = append(found, d)
			}
		}
		if len(found) != 1 {
			return Destination{}, fmt.Errorf("eventDestinations holds %d destinations of type pubsub; keep exactly the one to consume", len(found))
		}
		w = found[0]
	}
	if w.Type != DestinationTypePubSub {
		return Destination{}, fmt.Errorf("destination type %q is not %q", w.Type, DestinationTypePubSub)
	}
	d := Destination{DestinationID: w.DestinationID, Type: w.Type, Project: w.Project, Topic: w.Topic, Subscription: w.Subscription}
	creds, err := credentialsText(w.SubscriberCredentials)
	if err != nil {
		return Destination{}, err
	}
	d.SubscriberCredentials = creds
	var missing []string
	if d.Project == "" {
		missing = append(missing, "project")
	}
	if d.Subscription == "" {
		missing = append(missing, "subscription")
	}
	if len(missing) > 0 {
		return Destination{}, fmt.Errorf("destination lacks %v", missing)
	}
	return d, nil
}

// LoadDestination reads and parses a destination file (see ParseDestination).
func LoadDestination(path string) (Destination, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Destination{}, fmt.Errorf("read destination: %w", err)
	}
	d, err := ParseDestination(data)
	if err != nil {
		return Destination{}, fmt.Errorf("destination %s: %w", path, err)
	}
	return d, nil
}

func credentialsText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return "", nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errors.New("subscriberCredentials is not a valid JSON string")
		}
		if s != "" {
			if err := CheckCredentials([]byte(s)); err != nil {
				return "", fmt.Errorf("subscriberCredentials: %w", err)
			}
		}
		return s, nil
	case raw[0] == '{':
		if err := CheckCredentials(raw); err != nil {
			return "", fmt.Errorf("subscriberCredentials: %w", err)
		}
		return string(raw), nil
	}
	return "", errors.New("subscriberCredentials is neither a JSON string nor an object")
}

// CheckCredentials reports whether b looks like a Google service-account key file: a JSON object
// with "type": "service_account". The error never quotes b.
func CheckCredentials(b []byte) error {
	var k struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return errors.New("not a JSON service-account key")
	}
	if k.Type != "service_account" {
		return fmt.Errorf("key type %q is not service_account", k.Type)
	}
	return nil
}
