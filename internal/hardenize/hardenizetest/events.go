package hardenizetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hzhook/hzhook/internal/events"
)

// Event is an event the fake holds: APIBody is its /events form (data a JSON string),
// WebhookBody its webhook form (data an object).
type Event struct {
	ID          int64
	Type        string
	CreatedOn   time.Time
	APIBody     json.RawMessage
	WebhookBody []byte
}

type storedEvent = Event

// AddEvent stores a new event of typ created at createdOn (millisecond precision, as Hardenize),
// with a generated payload, and returns it. Ids count up from 10001.
func (s *Server) AddEvent(typ string, createdOn time.Time) (Event, error) {
	createdOn = createdOn.UTC().Truncate(time.Millisecond)
	s.mu.Lock()
	id := int64(10001 + len(s.events))
	s.mu.Unlock()
	hook, err := events.Sample(typ, id, createdOn)
	if err != nil {
		return Event{}, fmt.Errorf("add event: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(hook, &fields); err != nil {
		return Event{}, fmt.Errorf("add event: %w", err)
	}
	data, err := json.Marshal(string(fields["data"]))
	if err != nil {
		return Event{}, fmt.Errorf("add event: %w", err)
	}
	fields["data"] = data
	if _, ok := fields["apiVersion"]; !ok {
		fields["apiVersion"] = json.RawMessage(`"0.14.0"`)
	}
	api, err := json.Marshal(fields)
	if err != nil {
		return Event{}, fmt.Errorf("add event: %w", err)
	}
	ev := Event{ID: id, Type: typ, CreatedOn: createdOn, APIBody: api, WebhookBody: hook}
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	return ev, nil
}

// Events returns every event held, in the order added.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Deliver pushes event ev to hook hookID's destination as a webhook delivery, signed with the
// hook's secret, and returns the answer's status code.
func (s *Server) Deliver(ctx context.Context, hookID string, ev Event) (int, error) {
	s.mu.Lock()
	_, h := s.findLocked(hookID)
	var dest, secret string
	if h != nil {
		dest, secret = h.Destination, h.Secret
	}
	s.mu.Unlock()
	if h == nil {
		return 0, fmt.Errorf("deliver: no hook %s", hookID)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, dest, nil)
	if err != nil {
		return 0, fmt.Errorf("deliver: %w", err)
	}
	code, _, err := s.post(r, dest, s.org, hookID, secret, ev.WebhookBody)
	return code, err
}

// listEvents answers /events: earliest first, only events created strictly after since (compared
// at millisecond precision), of the given type, at most limit (1..100, default 100).
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, http.StatusBadRequest, "limit", "must be between 1 and 100")
			return
		}
		limit = n
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since", "must be an ISO 8601 date-time")
			return
		}
		since = t.UTC().Truncate(time.Millisecond)
	}
	typ := q.Get("type")
	all := s.Events()
	slices.SortStableFunc(all, func(a, b Event) int {
		if c := a.CreatedOn.Compare(b.CreatedOn); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	out := []json.RawMessage{}
	for _, ev := range all {
		if len(out) == limit {
			break
		}
		if (!since.IsZero() && !ev.CreatedOn.After(since)) || (typ != "" && ev.Type != typ) {
			continue
		}
		out = append(out, ev.APIBody)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}
