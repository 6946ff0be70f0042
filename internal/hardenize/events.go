package hardenize

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxEventsPerPage is the API's forced limit of events per /events call.
const MaxEventsPerPage = 100

// EventsQuery filters ListEvents. Zero values are left out.
type EventsQuery struct {
	Since time.Time // events that occurred after this time
	Type  string
	Limit int // 1..100; 100 when 0
}

// RawEvent is one event of /events exactly as the API returned it: Raw is the event object's JSON
// (data still a JSON string), which is what backfill stores.
type RawEvent struct {
	Raw       json.RawMessage
	ID        string // decimal
	Type      string
	CreatedOn time.Time
}

// EventType is an event type and whether the account generates it.
type EventType struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Enabled   bool   `json:"enabled"`
}

// EventDestination is a managed destination (a Pub/Sub topic) a hook may deliver to. The
// subscriber credentials it carries are a secret.
type EventDestination struct {
	DestinationID         string `json:"destinationId"`
	Type                  string `json:"type"`
	Project               string `json:"project,omitempty"`
	Topic                 string `json:"topic,omitempty"`
	Subscription          string `json:"subscription,omitempty"`
	SubscriberCredentials string `json:"subscriberCredentials,omitempty"`
}

// ListEvents returns one page of events, earliest first. To go on, call it again with Since set to
// the CreatedOn of the last event (see package backfill for gap-free paging).
func (c *Client) ListEvents(ctx context.Context, q EventsQuery) ([]RawEvent, error) {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Type != "" {
		v.Set("type", q.Type)
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxEventsPerPage {
		limit = MaxEventsPerPage
	}
	v.Set("limit", strconv.Itoa(limit))
	var r struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := c.do(ctx, http.MethodGet, "events", v, nil, &r); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out := make([]RawEvent, 0, len(r.Events))
	for i, raw := range r.Events {
		ev, err := decodeRawEvent(raw)
		if err != nil {
			return nil, fmt.Errorf("list events: events[%d]: %w", i, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

func decodeRawEvent(raw json.RawMessage) (RawEvent, error) {
	var w struct {
		ID        json.Number `json:"id"`
		Type      string      `json:"type"`
		CreatedOn time.Time   `json:"createdOn"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return RawEvent{}, fmt.Errorf("decode event: %w", err)
	}
	if _, err := strconv.ParseUint(w.ID.String(), 10, 64); err != nil {
		return RawEvent{}, fmt.Errorf("event id %q is not a non-negative integer", w.ID)
	}
	if w.CreatedOn.IsZero() {
		return RawEvent{}, fmt.Errorf("event %s has no createdOn", w.ID)
	}
	return RawEvent{Raw: raw, ID: w.ID.String(), Type: w.Type, CreatedOn: w.CreatedOn.UTC()}, nil
}

// ListEventTypes lists the event types and how the account is configured for them.
func (c *Client) ListEventTypes(ctx context.Context) ([]EventType, error) {
	var r struct {
		EventTypes []EventType `json:"eventTypes"`
	}
	if err := c.do(ctx, http.MethodGet, "eventTypes", nil, nil, &r); err != nil {
		return nil, fmt.Errorf("list event types: %w", err)
	}
	return r.EventTypes, nil
}

// ListEventDestinations lists the managed destinations (Pub/Sub) of the account.
func (c *Client) ListEventDestinations(ctx context.Context) ([]EventDestination, error) {
	var r struct {
		EventDestinations []EventDestination `json:"eventDestinations"`
	}
	if err := c.do(ctx, http.MethodGet, "eventDestinations", nil, nil, &r); err != nil {
		return nil, fmt.Errorf("list event destinations: %w", err)
	}
	return r.EventDestinations, nil
}
