package hardenize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MIME type of an OperationStatus body, which the results endpoint sends instead of results when
// asked too early (the seed's "MIME Types" section).
const operationStatusType = "application/vnd.hardenize.v1.operation-status+json"

// ErrOperationExpired reports that the API no longer knows an asynchronous operation: its results
// were discarded (the seed: a 404 "means that the operation has expired and should be submitted
// again"; results should be collected "in under one hour"). A listing resumed from a cursor of an
// expired operation must start over with a fresh cursor.
var ErrOperationExpired = errors.New("hardenize operation expired or unknown")

// OperationStatus is the API's OperationStatus object. StatusCode is set once Done: the HTTP status
// the request would have had if run synchronously (200 completed, 400, 404, 410 cancelled, 500,
// 502, 503). Pages, Rows and RowsPerPage describe a finished operation's paginated results.
type OperationStatus struct {
	ID          string `json:"id"`
	Done        bool   `json:"done"`
	StatusCode  int    `json:"statusCode,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Pages       int    `json:"pages,omitempty"`
	Rows        int    `json:"rows,omitempty"`
	RowsPerPage int    `json:"rowsPerPage,omitempty"`
}

// Succeeded reports whether the operation finished with a 2xx status, so its results can be
// fetched. A finished status without statusCode counts as success: the results' own
// X-Operation-Status-Code then decides.
func (s OperationStatus) Succeeded() bool {
	return s.Done && (s.StatusCode == 0 || s.StatusCode >= 200 && s.StatusCode < 300)
}

// startOperation POSTs an action that spawns an asynchronous operation and returns the status of
// the 202 answer. It is retried only when refused (429, 502, 503, 504), so it starts at most one
// operation per call, except where a refused request had started one anyway.
func (c *Client) startOperation(ctx context.Context, path string, query url.Values) (OperationStatus, error) {
	r, err := c.doReply(ctx, http.MethodPost, path, query, nil, nil)
	if err != nil {
		return OperationStatus{}, err
	}
	var st OperationStatus
	if len(bytes.TrimSpace(r.body)) > 0 {
		if err := json.Unmarshal(r.body, &st); err != nil {
			return OperationStatus{}, fmt.Errorf("POST %s: decode answer: %w", path, err)
		}
	}
	if st.ID == "" {
		// The Location header is the status link; its last segment is the id.
		if loc := r.header.Get("Location"); loc != "" {
			if u, err := url.Parse(loc); err == nil {
				st.ID = u.Path[strings.LastIndexByte(u.Path, '/')+1:]
			}
		}
	}
	if st.ID == "" {
		return OperationStatus{}, fmt.Errorf("POST %s: %d answer names no operation (no id, no Location)", path, r.status)
	}
	return st, nil
}

// GetOperation returns the current status of the asynchronous operation id. An unknown (expired)
// operation is ErrOperationExpired.
func (c *Client) GetOperation(ctx context.Context, id string) (OperationStatus, error) {
	var st OperationStatus
	if err := c.do(ctx, http.MethodGet, "operations/"+url.PathEscape(id), nil, nil, &st); err != nil {
		return OperationStatus{}, operationErr("get operation", id, err)
	}
	return st, nil
}

// WaitOperation polls operation id until it is done and returns its final status, whatever its
// StatusCode. It waits Options.PollInterval before the second poll, doubling up to
// MaxPollInterval; onStatus (when not nil) sees every status polled, to show progress. The
// overall limit is ctx's. Giving up leaves the operation running on Hardenize's side, so a
// listing can be resumed; call CancelOperation to abandon it.
func (c *Client) WaitOperation(ctx context.Context, id string, onStatus func(OperationStatus)) (OperationStatus, error) {
	wait := c.opts.PollInterval
	for {
		st, err := c.GetOperation(ctx, id)
		if err != nil {
			return OperationStatus{}, err
		}
		if onStatus != nil {
			onStatus(st)
		}
		if st.Done {
			return st, nil
		}
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return OperationStatus{}, fmt.Errorf("wait for operation %s: %w", id, err)
		}
		wait = min(2*wait, c.opts.MaxPollInterval)
	}
}

// CancelOperation asks the API to cancel operation id. The API promises to try, not to succeed;
// the seed asks clients that give up waiting on a long operation to cancel it.
func (c *Client) CancelOperation(ctx context.Context, id string) error {
	if err := c.do(ctx, http.MethodDelete, "operations/"+url.PathEscape(id), nil, nil, nil); err != nil {
		return operationErr("cancel operation", id, err)
	}
	return nil
}

// resultPage is one answer of GET /operations/{id}/results.
type resultPage struct {
	notReady bool            // 303, or an OperationStatus body: poll the status again
	failure  *APIError       // the operation's own status (X-Operation-Status-Code) is not 2xx
	whole    bool            // 200: the complete results, not a page
	page     int             // the page delivered (206)
	pages    int             // total pages from Content-Range, 0 when not said
	body     json.RawMessage // the results (what the synchronous request would have answered)
}

// errRangeNotSatisfiable is a 416 answer of the results endpoint: no such page.
var errRangeNotSatisfiable = errors.New("page range not satisfiable")

// operationPage fetches page (1-based) of operation id's results with "Range: pages=N-N". An
// X-Operation-Status-Code other than 2xx is reported as failure: an *APIError with that code and
// the messages of the results body.
func (c *Client) operationPage(ctx context.Context, id string, page int) (resultPage, error) {
	path := "operations/" + url.PathEscape(id) + "/results"
	u, err := c.url(path, nil)
	if err != nil {
		return resultPage{}, fmt.Errorf("results of operation %s: %w", id, err)
	}
	rng := fmt.Sprintf("pages=%d-%d", page, page)
	r, err := c.send(ctx, request{method: http.MethodGet, url: u, header: http.Header{"Range": {rng}}, keep3xx: true})
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			return resultPage{}, fmt.Errorf("results of operation %s: %s: %w", id, rng, errRangeNotSatisfiable)
		}
		return resultPage{}, operationErr("results of operation", id, fmt.Errorf("GET %s: %w", path, err))
	}
	if r.status >= 300 || isOperationStatus(r.header) {
		return resultPage{notReady: true}, nil
	}
	if v := r.header.Get("X-Operation-Status-Code"); v != "" {
		if code, err := strconv.Atoi(v); err == nil && (code < 200 || code >= 300) {
			return resultPage{failure: newAPIError(code, r.header, bytes.NewReader(r.body))}, nil
		}
	}
	if r.status != http.StatusPartialContent {
		return resultPage{whole: true, body: r.body}, nil
	}
	first, last, total, err := parseContentRange(r.header.Get("Content-Range"))
	if err != nil {
		return resultPage{}, fmt.Errorf("results of operation %s: %w", id, err)
	}
	if first != page || last != page {
		return resultPage{}, fmt.Errorf("results of operation %s: asked for page %d, got pages %d-%d", id, page, first, last)
	}
	return resultPage{page: page, pages: total, body: r.body}, nil
}

// operationFailure turns a finished operation that did not succeed into an *APIError with the
// operation's status code, reading the error messages its results may carry.
func (c *Client) operationFailure(ctx context.Context, st OperationStatus) error {
	failure := &APIError{StatusCode: st.StatusCode}
	if p, err := c.operationPage(ctx, st.ID, 1); err == nil && p.failure != nil && p.failure.StatusCode == st.StatusCode {
		failure = p.failure
	}
	return fmt.Errorf("operation %s failed: %w", st.ID, failure)
}

// parseContentRange reads "pages 1-1/10"; total is 0 when the server wrote "*".
func parseContentRange(v string) (first, last, total int, err error) {
	unit, spec, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || unit != "pages" {
		return 0, 0, 0, fmt.Errorf("content-range %q: want pages N-M/T", v)
	}
	rng, tot, ok := strings.Cut(spec, "/")
	a, b, ok2 := strings.Cut(rng, "-")
	if !ok || !ok2 {
		return 0, 0, 0, fmt.Errorf("content-range %q: want pages N-M/T", v)
	}
	if first, err = strconv.Atoi(a); err == nil {
		last, err = strconv.Atoi(b)
	}
	if err == nil && tot != "*" {
		total, err = strconv.Atoi(tot)
	}
	if err != nil || first < 1 || last < first || (total != 0 && last > total) {
		return 0, 0, 0, fmt.Errorf("content-range %q: want pages N-M/T", v)
	}
	return first, last, total, nil
}

func isOperationStatus(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == operationStatusType
}

// operationErr wraps err for operation id, adding ErrOperationExpired to a 404.
func operationErr(what, id string, err error) error {
	if IsNotFound(err) {
		return fmt.Errorf("%s %s: %w: %w", what, id, ErrOperationExpired, err)
	}
	return fmt.Errorf("%s %s: %w", what, id, err)
}
