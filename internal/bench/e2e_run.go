package bench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)

	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

// storeWatch reads new CT log entries from the worker's SQLite store through a read-only
// connection, as the read API does, and notes when each was first seen.
type storeWatch struct {
	db      *sql.DB
	lastRow int64
}

func newStoreWatch(path string) (*storeWatch, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db.SetMaxOpenConns(1)
	return &storeWatch{db: db}, nil
}

func (w *storeWatch) close() { w.db.Close() }

// poll calls seen with the CT log index of every ct_entries row added since the last poll.
func (w *storeWatch) poll(ctx context.Context, seen func(index int64)) error {
	rows, err := w.db.QueryContext(ctx, `SELECT rowid, log_index FROM ct_entries WHERE rowid > $1 ORDER BY rowid`, w.lastRow)
	if err != nil {
		return fmt.Errorf("poll store: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var index int64
		if err := rows.Scan(&w.lastRow, &index); err != nil {
			return fmt.Errorf("poll store: %w", err)
		}
		seen(index)
	}
	return rows.Err()
}

// e2eRun sends bodies (event ids first+1...) at o.Rate and returns the latencies of the run.
func e2eRun(ctx context.Context, url string, first int64, bodies [][]byte, o E2EOptions, watch *storeWatch) (E2ERun, error) {
	n := len(bodies)
	answered := make([]time.Time, n) // 204 received; zero when not accepted
	visible := make([]time.Time, n)
	answerMs := make([]float64, 0, n)
	var mu sync.Mutex

	// The watch runs from before the first send until every accepted event is seen or a grace
	// period after the last send has passed.
	sendDone := make(chan struct{})
	watchErr := make(chan error, 1)
	go func() {
		done := sendDone
		ticker := time.NewTicker(o.Poll)
		defer ticker.Stop()
		var deadline <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				watchErr <- ctx.Err()
				return
			case <-done:
				done = nil
				deadline = time.After(30 * time.Second)
			case <-deadline:
				watchErr <- nil
				return
			case <-ticker.C:
			}
			now := time.Now()
			if err := watch.poll(ctx, func(index int64) {
				if i := index - first - 1; i >= 0 && i < int64(n) && visible[i].IsZero() {
					visible[i] = now
				}
			}); err != nil {
				watchErr <- err
				return
			}
			if done == nil && allSeen(&mu, answered, visible) {
				watchErr <- nil
				return
			}
		}
	}()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	work := make(chan int, n)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := range work {
				start := time.Now()
				if post(ctx, client, url, bodies[i]) {
					end := time.Now()
					mu.Lock()
					answered[i] = end
					answerMs = append(answerMs, ms(end.Sub(start)))
					mu.Unlock()
				}
			}
		})
	}
	interval := time.Second / time.Duration(o.Rate)
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		work <- i
	}
	close(work)
	sendRate := float64(n) / time.Since(start).Seconds()
	wg.Wait()
	close(sendDone)
	if err := <-watchErr; err != nil {
		return E2ERun{}, err
	}

	res := E2ERun{Sent: n, SendRate: sendRate}
	var lat []float64
	for i := range n {
		if answered[i].IsZero() {
			continue
		}
		res.Accepted++
		if !visible[i].IsZero() {
			res.Visible++
			// A row may show up before the 204 reaches the sender: that counts as no delay.
			lat = append(lat, max(ms(visible[i].Sub(answered[i])), 0))
		}
	}
	sort.Float64s(lat)
	sort.Float64s(answerMs)
	res.P50, res.P90, res.P99 = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	res.AnswerP99 = percentile(answerMs, 0.99)
	return res, nil
}

func allSeen(mu *sync.Mutex, answered, visible []time.Time) bool {
	mu.Lock()
	defer mu.Unlock()
	for i := range answered {
		if !answered[i].IsZero() && visible[i].IsZero() {
			return false
		}
	}
	return true
}

// post delivers one signed event and reports whether it was answered 204.
func post(ctx context.Context, client *http.Client, url string, body []byte) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set(queue.HeaderOrg, benchOrg)
	req.Header.Set(queue.HeaderHookID, benchHook)
	req.Header.Set(queue.HeaderSignature, verify.Sign(benchSecret, time.Now(), body))
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
