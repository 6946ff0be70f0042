package hardenize

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Hook types and statuses of an EventHook.
const (
	HookTypeWebhook = "webhook"
	HookTypePubSub  = "pubsub"

	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"
	StatusFailed   = "failed" // set by Hardenize when it finds a hook inoperational
)

// Values of the invalid parameter of TestEventHook.
const (
	InvalidNone      = "none"
	InvalidHookID    = "hookId"
	InvalidOrg       = "org"
	InvalidPayload   = "payload"
	InvalidSignature = "signature"
)

// InvalidVariants are the broken submissions ;test can send; a correct receiver refuses each.
var InvalidVariants = []string{InvalidHookID, InvalidOrg, InvalidPayload, InvalidSignature}

// EventHook is a destination events are pushed to. Secret signs the deliveries.
type EventHook struct {
	ID          string   `json:"id"`
	HookType    string   `json:"hookType"`
	EventTypes  []string `json:"eventTypes"`
	Status      string   `json:"status"`
	Destination string   `json:"destination,omitempty"`
	Secret      string   `json:"secret"`
}

// CreateEventHookRequest creates a hook; Status defaults to disabled.
type CreateEventHookRequest struct {
	HookType    string   `json:"hookType"`
	EventTypes  []string `json:"eventTypes"`
	Status      string   `json:"status,omitempty"`
	Destination string   `json:"destination"`
}

// UpdateEventHookRequest changes the fields that are set. The API offers no way to change a hook's
// secret: rotating one means creating a new hook.
type UpdateEventHookRequest struct {
	EventTypes  []string `json:"eventTypes,omitempty"`
	Destination string   `json:"destination,omitempty"`
	Status      string   `json:"status,omitempty"`
}

// TestResult is the transcript of one ;test call. Successful means the receiver answered as
// expected: 2xx for a valid submission, 400 for a broken one.
type TestResult struct {
	Successful     bool         `json:"successful"`
	ErrorMessage   string       `json:"errorMessage,omitempty"`
	DurationMillis int64        `json:"durationMillis"`
	Webhook        *WebhookTest `json:"webook,omitempty"` // sic: the API spells it "webook"
}

// WebhookTest is the request sent and the answer received by a webhook test.
type WebhookTest struct {
	Request struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
	Response struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	} `json:"response"`
}

// StatusCode is the receiver's answer in the transcript, 0 when there is none.
func (r TestResult) StatusCode() int {
	if r.Webhook == nil {
		return 0
	}
	return r.Webhook.Response.StatusCode
}

// ListEventHooks lists the organization's hooks.
func (c *Client) ListEventHooks(ctx context.Context) ([]EventHook, error) {
	var r struct {
		EventHooks []EventHook `json:"eventHooks"`
	}
	if err := c.do(ctx, http.MethodGet, "eventHooks", nil, nil, &r); err != nil {
		return nil, fmt.Errorf("list event hooks: %w", err)
	}
	return r.EventHooks, nil
}

// GetEventHook finds one hook by id in the list (the API has no single-hook GET).
func (c *Client) GetEventHook(ctx context.Context, id string) (EventHook, error) {
	hooks, err := c.ListEventHooks(ctx)
	if err != nil {
		return EventHook{}, err
	}
	for _, h := range hooks {
		if h.ID == id {
			return h, nil
		}
	}
	return EventHook{}, fmt.Errorf("event hook %s: %w", id, &APIError{StatusCode: http.StatusNotFound, Errors: []ErrorMessage{{Message: "no such hook in the organization"}}})
}

// CreateEventHook creates a hook and returns it with its id and secret. A create is retried only
// when the API refused it before processing (429, 502, 503, 504), so it never creates two hooks.
func (c *Client) CreateEventHook(ctx context.Context, req CreateEventHookRequest) (EventHook, error) {
	var r struct {
		EventHook EventHook `json:"eventHook"`
	}
	if err := c.do(ctx, http.MethodPost, "eventHooks", nil, req, &r); err != nil {
		return EventHook{}, fmt.Errorf("create event hook: %w", err)
	}
	return r.EventHook, nil
}

// UpdateEventHook changes a hook and returns its new state.
func (c *Client) UpdateEventHook(ctx context.Context, id string, req UpdateEventHookRequest) (EventHook, error) {
	var r struct {
		EventHook EventHook `json:"eventHook"`
	}
	if err := c.do(ctx, http.MethodPost, "eventHooks/"+url.PathEscape(id), nil, req, &r); err != nil {
		return EventHook{}, fmt.Errorf("update event hook %s: %w", id, err)
	}
	return r.EventHook, nil
}

// DeleteEventHook deletes a hook.
func (c *Client) DeleteEventHook(ctx context.Context, id string) error {
	if err := c.do(ctx, http.MethodDelete, "eventHooks/"+url.PathEscape(id), nil, nil, nil); err != nil {
		return fmt.Errorf("delete event hook %s: %w", id, err)
	}
	return nil
}

// TestEventHook asks Hardenize to deliver one test submission of eventType ("test", "ct.entry",
// "pki.cert.new"; empty = test) to the hook, broken as invalid says (InvalidNone or one of
// InvalidVariants), and returns the transcript. It runs synchronously on Hardenize's side.
func (c *Client) TestEventHook(ctx context.Context, id, eventType, invalid string) (TestResult, error) {
	q := url.Values{}
	if eventType != "" {
		q.Set("eventType", eventType)
	}
	if invalid != "" {
		q.Set("invalid", invalid)
	}
	var r TestResult
	if err := c.do(ctx, http.MethodPost, "eventHooks/"+url.PathEscape(id)+";test", q, nil, &r); err != nil {
		return TestResult{}, fmt.Errorf("test event hook %s: %w", id, err)
	}
	return r, nil
}
