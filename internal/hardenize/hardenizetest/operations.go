package hardenizetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hzhook/hzhook/internal/hardenize"
)

const (
	operationStatusType = "application/vnd.hardenize.v1.operation-status+json; charset=UTF-8"
	resultsType         = "application/json; charset=UTF-8"

	defaultOperationPolls = 2
	defaultRowsPerPage    = 250 // the seed's example status
)

// operation is an asynchronous operation of the fake: a snapshot of its results taken when it was
// requested, so later changes to the account do not show in its pages (the seed's "the data set
// remains the same").
type operation struct {
	id          string
	pollsLeft   int // status polls still answering done: false
	statusCode  int // the final status: 200, or what FailNextOperation asked for, or 410
	message     string
	rows        []json.RawMessage
	rowsPerPage int
}

func (op *operation) pages() int { return (len(op.rows) + op.rowsPerPage - 1) / op.rowsPerPage }

func (op *operation) status() hardenize.OperationStatus {
	if op.pollsLeft > 0 {
		return hardenize.OperationStatus{ID: op.id, StatusCode: http.StatusAccepted}
	}
	st := hardenize.OperationStatus{ID: op.id, Done: true, StatusCode: op.statusCode}
	if op.statusCode == http.StatusOK {
		st.ContentType, st.Pages, st.Rows, st.RowsPerPage = resultsType, op.pages(), len(op.rows), op.rowsPerPage
	}
	return st
}

// SetOperationPolls makes each new operation answer "done": false to its first n status polls
// (2 unless set; 0: done at once). Results asked for before then answer 303 See Other.
func (s *Server) SetOperationPolls(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opPolls = n
}

// SetRowsPerPage sets the page size of new operations' results (250 unless set). The API picks
// the page size; clients cannot.
func (s *Server) SetRowsPerPage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rowsPerPage = max(n, 1)
}

// FailNextOperation makes the next operation finish with statusCode (e.g. 500) instead of 200;
// its results then carry X-Operation-Status-Code: statusCode and an ErrorResponse with message.
func (s *Server) FailNextOperation(statusCode int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCode, s.failMessage = statusCode, message
}

// ExpireOperations forgets every operation, as the API does when it discards results: their
// status and results answer 404.
func (s *Server) ExpireOperations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.ops)
}

// startListCerts answers POST /certs/;listCerts: 202, a Location to the status, an
// OperationStatus that is not done.
func (s *Server) startListCerts(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit", "must be a positive integer")
			return
		}
		limit = n
	}
	s.mu.Lock()
	rows, err := certJSON(s.certs, limit)
	op := &operation{id: randomHex(10), pollsLeft: s.opPolls, statusCode: http.StatusOK, rows: rows, rowsPerPage: s.rowsPerPage}
	if s.failCode != 0 {
		op.statusCode, op.message, op.rows = s.failCode, s.failMessage, nil
		s.failCode, s.failMessage = 0, ""
	}
	if err == nil {
		s.ops[op.id] = op
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "encode certificates")
		return
	}
	w.Header().Set("Location", s.operationPath(op.id))
	writeStatus(w, http.StatusAccepted, hardenize.OperationStatus{ID: op.id, StatusCode: http.StatusAccepted})
}

// getOperation answers GET /operations/{id}; each poll of an unfinished operation brings it one
// poll closer to done.
func (s *Server) getOperation(w http.ResponseWriter, id string) {
	s.mu.Lock()
	op := s.ops[id]
	var st hardenize.OperationStatus
	if op != nil {
		st = op.status()
		op.pollsLeft = max(op.pollsLeft-1, 0)
	}
	s.mu.Unlock()
	if op == nil {
		writeError(w, http.StatusNotFound, "", "operation not found")
		return
	}
	writeStatus(w, http.StatusOK, st)
}

// cancelOperation answers DELETE /operations/{id}: the operation ends with 410 Gone.
func (s *Server) cancelOperation(w http.ResponseWriter, id string) {
	s.mu.Lock()
	op := s.ops[id]
	if op != nil && op.pollsLeft > 0 {
		op.pollsLeft, op.statusCode, op.rows = 0, http.StatusGone, nil
	}
	s.mu.Unlock()
	if op == nil {
		writeError(w, http.StatusNotFound, "", "operation not found")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// operationResults answers GET /operations/{id}/results: 303 and the status while the operation
// runs; else X-Operation-Status-Code and, for a successful operation, 206 with the pages a
// "Range: pages=N-M" asks for (416 if it cannot be met) or 200 with everything.
func (s *Server) operationResults(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	op := s.ops[id]
	var (
		st    hardenize.OperationStatus
		rows  []json.RawMessage
		per   int
		pages int
		msg   string
	)
	if op != nil {
		st, rows, per, pages, msg = op.status(), op.rows, op.rowsPerPage, op.pages(), op.message
	}
	s.mu.Unlock()
	switch {
	case op == nil:
		writeError(w, http.StatusNotFound, "", "operation not found")
		return
	case !st.Done:
		w.Header().Set("Location", s.operationPath(id))
		writeStatus(w, http.StatusSeeOther, st)
		return
	}
	w.Header().Set("X-Operation-Status-Code", strconv.Itoa(st.StatusCode))
	if st.StatusCode != http.StatusOK {
		if msg == "" {
			msg = http.StatusText(st.StatusCode)
		}
		w.Header().Set("Content-Type", "application/vnd.hardenize.v1.error-response+json")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []hardenize.ErrorMessage{{Message: msg}}})
		return
	}
	code := http.StatusOK
	if v := r.Header.Get("Range"); v != "" {
		first, last, ok := parsePagesRange(v)
		if !ok || first > pages || last > pages {
			writeError(w, http.StatusRequestedRangeNotSatisfiable, "", "unable to provide the requested range")
			return
		}
		rows = rows[(first-1)*per : min(last*per, len(rows))]
		w.Header().Set("Content-Range", fmt.Sprintf("pages %d-%d/%d", first, last, pages))
		code = http.StatusPartialContent
	}
	w.Header().Set("Content-Type", resultsType)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"certs": rows})
}

// parsePagesRange reads "pages=N-M", 1 <= N <= M.
func parsePagesRange(v string) (first, last int, ok bool) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "pages=")
	a, b, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 {
		return 0, 0, false
	}
	first, err1 := strconv.Atoi(a)
	last, err2 := strconv.Atoi(b)
	return first, last, err1 == nil && err2 == nil && first >= 1 && last >= first
}

func (s *Server) operationPath(id string) string { return "/v1/org/" + s.org + "/operations/" + id }

func writeStatus(w http.ResponseWriter, code int, st hardenize.OperationStatus) {
	w.Header().Set("Content-Type", operationStatusType)
	w.Header().Set("X-Request-Allowance", "r: 59/60 (+1/1s); c: 1/5")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(st)
}
