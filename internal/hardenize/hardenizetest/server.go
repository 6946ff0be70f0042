package hardenizetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hzhook/hzhook/internal/hardenize"
)

// Credentials the fake accepts.
const (
	User     = "svc-hzhook"
	Password = "api-password-for-tests"
)

// Server is a running fake API for one organization.
type Server struct {
	*httptest.Server
	org      string
	delivery *http.Client
	now      func() time.Time

	mu          sync.Mutex
	hooks       []*hardenize.EventHook
	events      []storedEvent
	certs       []*storedCert
	ops         map[string]*operation
	opPolls     int // status polls a new operation answers done: false
	rowsPerPage int
	failCode    int // the next operation fails with this status code
	failMessage string
	throttle    int    // the next throttle requests are answered 429
	retryAfter  string // the Retry-After of those answers
	requests    map[string]int
	testCalls   []TestCall
}

// TestCall records one ;test call and its outcome.
type TestCall struct {
	HookID, EventType, Invalid string
	StatusCode                 int
	Successful                 bool
}

// NewServer starts a fake API for org. Close it when done (or register s.Close with t.Cleanup).
func NewServer(org string) *Server {
	s := &Server{
		org: org, delivery: &http.Client{Timeout: 10 * time.Second}, now: time.Now, requests: map[string]int{},
		ops: map[string]*operation{}, opPolls: defaultOperationPolls, rowsPerPage: defaultRowsPerPage,
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// BaseURL is the API base URL of the organization, to pass as the client's BaseURL.
func (s *Server) BaseURL() string { return s.URL + "/v1/org/" + s.org + "/" }

// Credentials the fake accepts.
func (s *Server) Credentials() hardenize.Credentials {
	return hardenize.Credentials{User: User, Password: Password}
}

// Throttle makes the next n requests answer 429 Too Many Requests with Retry-After: 0.
func (s *Server) Throttle(n int) { s.ThrottleRetryAfter(n, 0) }

// ThrottleRetryAfter makes the next n requests answer 429 Too Many Requests with a Retry-After of
// d (whole seconds).
func (s *Server) ThrottleRetryAfter(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle, s.retryAfter = n, strconv.Itoa(int(d/time.Second))
}

// Requests is how many requests reached the named endpoint, 429 answers included: "events",
// "eventHooks", "test", "certs" (list and get), "listCerts", "operations" (status and cancel),
// "results", ...
func (s *Server) Requests(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[endpoint]
}

// Hooks returns a copy of every hook.
func (s *Server) Hooks() []hardenize.EventHook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]hardenize.EventHook, len(s.hooks))
	for i, h := range s.hooks {
		out[i] = *h
	}
	return out
}

// AddHook stores a hook as if created in the Hardenize UI and returns it.
func (s *Server) AddHook(h hardenize.EventHook) hardenize.EventHook {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.ID == "" {
		h.ID = randomHex(16)
	}
	if h.Secret == "" {
		h.Secret = randomHex(16)
	}
	if h.HookType == "" {
		h.HookType = hardenize.HookTypeWebhook
	}
	s.hooks = append(s.hooks, &h)
	return h
}

// TestCalls returns the ;test calls made so far.
func (s *Server) TestCalls() []TestCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TestCall(nil), s.testCalls...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/v1/org/" + s.org + "/"
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !ok {
		writeError(w, http.StatusNotFound, "", "no such organization")
		return
	}
	endpoint, id, _ := strings.Cut(rest, "/")
	action, sub := "", ""
	if i := strings.IndexByte(id, ';'); i >= 0 {
		id, action = id[:i], id[i+1:]
	}
	if endpoint == "operations" {
		id, sub, _ = strings.Cut(id, "/")
	}
	name := endpoint
	switch {
	case action != "":
		name = action
	case sub != "":
		name = sub
	}
	s.mu.Lock()
	s.requests[name]++
	throttled := s.throttle > 0
	if throttled {
		s.throttle--
	}
	retryAfter := s.retryAfter
	s.mu.Unlock()
	if user, pass, ok := r.BasicAuth(); !ok || user != User || pass != Password {
		writeError(w, http.StatusUnauthorized, "", "credentials not provided or invalid")
		return
	}
	if throttled {
		w.Header().Set("X-Request-Allowance", "r: 0/60 (+1/1s); c: 1/5")
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, http.StatusTooManyRequests, "", "too many requests")
		return
	}
	switch {
	case endpoint == "eventHooks" && id == "" && r.Method == http.MethodGet:
		s.listHooks(w)
	case endpoint == "eventHooks" && id == "" && r.Method == http.MethodPost:
		s.createHook(w, r)
	case endpoint == "eventHooks" && action == "test" && r.Method == http.MethodPost:
		s.testHook(w, r, id)
	case endpoint == "eventHooks" && action == "" && id != "" && r.Method == http.MethodPost:
		s.updateHook(w, r, id)
	case endpoint == "eventHooks" && action == "" && id != "" && r.Method == http.MethodDelete:
		s.deleteHook(w, id)
	case endpoint == "events" && id == "" && r.Method == http.MethodGet:
		s.listEvents(w, r)
	case endpoint == "certs" && id == "" && action == "" && r.Method == http.MethodGet:
		s.listCerts(w, r)
	case endpoint == "certs" && id == "" && action == "listCerts" && r.Method == http.MethodPost:
		s.startListCerts(w, r)
	case endpoint == "certs" && id != "" && action == "" && !strings.Contains(id, "/") && r.Method == http.MethodGet:
		s.getCert(w, id)
	case endpoint == "operations" && id != "" && sub == "" && r.Method == http.MethodGet:
		s.getOperation(w, id)
	case endpoint == "operations" && id != "" && sub == "" && r.Method == http.MethodDelete:
		s.cancelOperation(w, id)
	case endpoint == "operations" && id != "" && sub == "results" && r.Method == http.MethodGet:
		s.operationResults(w, r, id)
	case endpoint == "eventTypes" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"eventTypes": []hardenize.EventType{
			{Name: "ct.entry", Available: true, Enabled: true}, {Name: "pki.cert.new", Available: true, Enabled: true},
		}})
	case endpoint == "eventDestinations" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"eventDestinations": []hardenize.EventDestination{}})
	default:
		writeError(w, http.StatusNotFound, "", "entity not found or invalid URL")
	}
}

func (s *Server) findLocked(id string) (int, *hardenize.EventHook) {
	for i, h := range s.hooks {
		if h.ID == id {
			return i, h
		}
	}
	return -1, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Allowance", "r: 59/60 (+1/1s); c: 1/5")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, param, msg string) {
	w.Header().Set("Content-Type", "application/vnd.hardenize.v1.error-response+json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []hardenize.ErrorMessage{{Param: param, Message: msg}}})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
