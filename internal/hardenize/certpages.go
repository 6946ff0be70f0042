package hardenize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"time"
)

// How the API pages a certificate listing, per the seed: POST /certs/;listCerts takes only limit
// (a cap on the number of certificates, not a page size) and spawns an asynchronous operation.
// Once the operation is done its status says pages, rows and rowsPerPage — the server picks the
// page size — and GET /operations/{id}/results with "Range: pages=N-N" answers 206 with page N and
// "Content-Range: pages N-N/T". The results are a snapshot: "the data set remains the same, even if
// the source of the data changes", so pages of one operation never overlap or skip. A CertCursor
// is therefore (operation id, pages delivered); it stays valid while the API keeps the results,
// which it promises only on a best-effort basis ("collected in under one hour").

// ListCertsQuery is the request of POST /certs/;listCerts.
type ListCertsQuery struct {
	// Limit caps the number of certificates listed; all when 0. It does not set the page size.
	Limit int
}

// CertCursor is a resumable position in a certificate listing. The zero value means "not
// started". It is plain data with JSON tags: save it after every page (CertPage.Next) and pass it
// back to resume an interrupted listing where it stopped.
type CertCursor struct {
	Operation string    `json:"operation,omitempty"` // listCerts operation id
	Limit     int       `json:"limit,omitempty"`     // the query the operation was started with
	Started   time.Time `json:"started,omitzero"`    // when the operation was requested (client clock)
	Ready     bool      `json:"ready,omitempty"`     // the operation is done and succeeded
	Pages     int       `json:"pages,omitempty"`     // result pages, once Ready (0: none or not said)
	Rows      int       `json:"rows,omitempty"`      // certificates in the results, once Ready
	Page      int       `json:"page,omitempty"`      // pages delivered so far
	Delivered int       `json:"delivered,omitempty"` // certificate objects delivered so far
	Finished  bool      `json:"finished,omitempty"`  // every page has been delivered
}

// Done reports whether the listing has delivered everything.
func (c CertCursor) Done() bool { return c.Finished }

// Progress is what a CLI shows of the listing after the page that produced this cursor.
func (c CertCursor) Progress() CertProgress {
	return CertProgress{Page: c.Page, Pages: c.Pages, Delivered: c.Delivered, Rows: c.Rows, Started: c.Started}
}

// CertProgress counts a listing's progress: Delivered of Rows certificates, Page of Pages pages,
// since Started. Rows and Pages are 0 until the operation is done, and Rows may be 0 if the API
// leaves it out. Rates are the caller's: it knows when its own run began.
type CertProgress struct {
	Page, Pages     int
	Delivered, Rows int
	Started         time.Time
}

// CertPage is one page of a certificate listing. Store Certs (and deal with Rejected), then save
// Next: resuming from Next delivers the following page, so a page is delivered again only if the
// caller resumes from an older cursor.
type CertPage struct {
	Certs    []CertRecord
	Rejected []RejectedCert
	Next     CertCursor
}

// StartListCerts asks the API to prepare a listing of every certificate (POST /certs/;listCerts)
// and returns the cursor at its start. The request is retried only when refused (429, 502, 503,
// 504).
func (c *Client) StartListCerts(ctx context.Context, q ListCertsQuery) (CertCursor, error) {
	if q.Limit < 0 {
		return CertCursor{}, errors.New("list certificates: limit is negative")
	}
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	started := c.opts.Now().UTC() // as it reads back from JSON
	st, err := c.startOperation(ctx, "certs/;listCerts", v)
	if err != nil {
		return CertCursor{}, fmt.Errorf("list certificates: %w", err)
	}
	return CertCursor{Operation: st.ID, Limit: q.Limit, Started: started}, nil
}

// ListCertsPage delivers the page after cur. If the operation is still running it first polls
// its status (see WaitOperation; onStatus may be nil). A cursor that is Done yields an empty page
// with Next == cur. Errors: ErrOperationExpired when the API no longer has the operation (start
// over with a zero cursor), an *APIError with the operation's status code when it failed
// (410: cancelled), ctx's error when it ends.
func (c *Client) ListCertsPage(ctx context.Context, cur CertCursor, onStatus func(OperationStatus)) (CertPage, error) {
	if cur.Finished {
		return CertPage{Next: cur}, nil
	}
	if cur.Operation == "" {
		return CertPage{}, errors.New("list certificates: cursor not started (use StartListCerts or ListCertsPages)")
	}
	for {
		if !cur.Ready {
			st, err := c.WaitOperation(ctx, cur.Operation, onStatus)
			if err != nil {
				return CertPage{}, fmt.Errorf("list certificates: %w", err)
			}
			if !st.Succeeded() {
				return CertPage{}, fmt.Errorf("list certificates: %w", c.operationFailure(ctx, st))
			}
			cur.Ready, cur.Pages, cur.Rows = true, st.Pages, st.Rows
		}
		n := cur.Page + 1
		if cur.Pages > 0 && n > cur.Pages {
			cur.Finished = true
			return CertPage{Next: cur}, nil
		}
		p, err := c.operationPage(ctx, cur.Operation, n)
		switch {
		case errors.Is(err, errRangeNotSatisfiable) && cur.Pages == 0:
			// No page count was given (an empty listing has none): past the last page.
			cur.Finished = true
			return CertPage{Next: cur}, nil
		case err != nil:
			return CertPage{}, fmt.Errorf("list certificates: %w", err)
		case p.notReady:
			// Results not there yet after all (303): wait, then poll the status again.
			cur.Ready = false
			if err := c.opts.Sleep(ctx, c.opts.PollInterval); err != nil {
				return CertPage{}, fmt.Errorf("list certificates: wait for operation %s: %w", cur.Operation, err)
			}
			continue
		case p.failure != nil:
			return CertPage{}, fmt.Errorf("list certificates: operation %s failed: %w", cur.Operation, p.failure)
		case p.whole && n > 1:
			// A 200 answers the whole result, ignoring Range; taking it again would repeat pages.
			return CertPage{}, fmt.Errorf("list certificates: operation %s answered all results for page %d", cur.Operation, n)
		}
		var r struct {
			Certs []json.RawMessage `json:"certs"`
		}
		if err := json.Unmarshal(p.body, &r); err != nil {
			return CertPage{}, fmt.Errorf("list certificates: page %d of operation %s: decode: %w", n, cur.Operation, err)
		}
		certs, rejected := decodeCerts(r.Certs)
		cur.Page = n
		cur.Delivered += len(r.Certs)
		switch {
		case p.whole:
			cur.Pages, cur.Finished = 1, true
		case p.pages > 0:
			cur.Pages = p.pages
			cur.Finished = n >= p.pages
		case cur.Pages > 0:
			cur.Finished = n >= cur.Pages
		}
		return CertPage{Certs: certs, Rejected: rejected, Next: cur}, nil
	}
}

// ListCertsPages pages through a certificate listing: from the start of a new listing with q
// when from is the zero cursor, else from where from stopped (q must then be the query from was
// started with). Each page is yielded with the cursor to save after storing it; an error ends the
// sequence. Stopping the loop early sends no further request and leaves the operation to expire.
func (c *Client) ListCertsPages(ctx context.Context, q ListCertsQuery, from CertCursor, onStatus func(OperationStatus)) iter.Seq2[CertPage, error] {
	return func(yield func(CertPage, error) bool) {
		cur := from
		if cur.Operation == "" && !cur.Finished {
			var err error
			if cur, err = c.StartListCerts(ctx, q); err != nil {
				yield(CertPage{}, err)
				return
			}
		} else if cur.Limit != q.Limit {
			yield(CertPage{}, fmt.Errorf("list certificates: cursor was started with limit %d, not %d", cur.Limit, q.Limit))
			return
		}
		for !cur.Finished {
			p, err := c.ListCertsPage(ctx, cur, onStatus)
			if err != nil {
				yield(CertPage{}, err)
				return
			}
			if !yield(p, nil) {
				return
			}
			cur = p.Next
		}
	}
}
