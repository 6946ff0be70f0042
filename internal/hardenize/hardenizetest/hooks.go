package hardenizetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

var knownStatuses = []string{hardenize.StatusEnabled, hardenize.StatusDisabled, hardenize.StatusFailed}

func (s *Server) listHooks(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{"eventHooks": s.Hooks()})
}

func (s *Server) createHook(w http.ResponseWriter, r *http.Request) {
	var req hardenize.CreateEventHookRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "", "invalid JSON body")
		return
	}
	switch {
	case req.HookType != hardenize.HookTypeWebhook && req.HookType != hardenize.HookTypePubSub:
		writeError(w, http.StatusBadRequest, "hookType", "must be webhook or pubsub")
		return
	case len(req.EventTypes) == 0:
		writeError(w, http.StatusBadRequest, "eventTypes", "at least one event type is required")
		return
	case req.Destination == "":
		writeError(w, http.StatusBadRequest, "destination", "required")
		return
	case req.Status != "" && !slices.Contains(knownStatuses, req.Status):
		writeError(w, http.StatusBadRequest, "status", "unknown status")
		return
	}
	status := req.Status
	if status == "" {
		status = hardenize.StatusDisabled
	}
	h := s.AddHook(hardenize.EventHook{HookType: req.HookType, EventTypes: req.EventTypes, Status: status, Destination: req.Destination})
	writeJSON(w, http.StatusOK, map[string]any{"eventHook": h})
}

func (s *Server) updateHook(w http.ResponseWriter, r *http.Request, id string) {
	var req hardenize.UpdateEventHookRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "", "invalid JSON body")
		return
	}
	if req.Status != "" && !slices.Contains(knownStatuses, req.Status) {
		writeError(w, http.StatusBadRequest, "status", "unknown status")
		return
	}
	s.mu.Lock()
	_, h := s.findLocked(id)
	if h == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "", "event hook not found")
		return
	}
	if req.Status != "" {
		h.Status = req.Status
	}
	if len(req.EventTypes) > 0 {
		h.EventTypes = req.EventTypes
	}
	if req.Destination != "" {
		h.Destination = req.Destination
	}
	out := *h
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"eventHook": out})
}

func (s *Server) deleteHook(w http.ResponseWriter, id string) {
	s.mu.Lock()
	i, h := s.findLocked(id)
	if h != nil {
		s.hooks = slices.Delete(s.hooks, i, i+1)
	}
	s.mu.Unlock()
	if h == nil {
		writeError(w, http.StatusNotFound, "", "event hook not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// testHook delivers one real signed submission to the hook's destination and judges the answer:
// 202/204 expected for a valid submission, 400 for a broken one.
func (s *Server) testHook(w http.ResponseWriter, r *http.Request, id string) {
	eventType := r.URL.Query().Get("eventType")
	if eventType == "" {
		eventType = events.TypeTest
	}
	invalid := r.URL.Query().Get("invalid")
	if invalid == "" {
		invalid = hardenize.InvalidNone
	}
	if invalid != hardenize.InvalidNone && !slices.Contains(hardenize.InvalidVariants, invalid) {
		writeError(w, http.StatusBadRequest, "invalid", "unknown value")
		return
	}
	s.mu.Lock()
	_, h := s.findLocked(id)
	var hook hardenize.EventHook
	if h != nil {
		hook = *h
	}
	s.mu.Unlock()
	if h == nil {
		writeError(w, http.StatusNotFound, "", "event hook not found")
		return
	}
	body, err := events.Sample(eventType, 0, s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "eventType", "unsupported event type")
		return
	}
	org, hookID, secret := s.org, hook.ID, hook.Secret
	switch invalid {
	case hardenize.InvalidHookID:
		hookID = randomHex(16)
	case hardenize.InvalidOrg:
		org = "not-" + org
	case hardenize.InvalidPayload:
		body = []byte(`{"this is": "not an event"`)
	case hardenize.InvalidSignature:
		secret = randomHex(16)
	}
	res := hardenize.TestResult{Webhook: &hardenize.WebhookTest{}}
	start := time.Now()
	code, respBody, err := s.post(r, hook.Destination, org, hookID, secret, body)
	res.DurationMillis = time.Since(start).Milliseconds()
	res.Webhook.Request.Method = http.MethodPost
	res.Webhook.Request.URL = hook.Destination
	res.Webhook.Request.Body = string(body)
	res.Webhook.Response.StatusCode = code
	res.Webhook.Response.Body = respBody
	switch {
	case err != nil:
		res.ErrorMessage = "request failed: " + err.Error()
	case invalid == hardenize.InvalidNone && code != http.StatusNoContent && code != http.StatusAccepted:
		res.ErrorMessage = "Expected 202 or 204 status code"
	case invalid != hardenize.InvalidNone && code != http.StatusBadRequest:
		res.ErrorMessage = "Expected 400 status code"
	default:
		res.Successful = true
	}
	s.mu.Lock()
	s.testCalls = append(s.testCalls, TestCall{HookID: id, EventType: eventType, Invalid: invalid, StatusCode: code, Successful: res.Successful})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) post(r *http.Request, dest, org, hookID, secret string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, dest, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("destination: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("User-Agent", "Hardenize (https://www.hardenize.com)")
	req.Header.Set(queue.HeaderOrg, org)
	req.Header.Set(queue.HeaderHookID, hookID)
	req.Header.Set(queue.HeaderSignature, verify.Sign(secret, s.now(), body))
	resp, err := s.delivery.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}
