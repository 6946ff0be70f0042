package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

// attempt is one request of the sender.
type attempt struct {
	id    int
	start time.Time
	took  time.Duration
	code  int // 0: connection error
}

// sender delivers events 1..n like Hardenize does: each until it is answered 204, retrying
// anything else after a pause.
type sender struct {
	url, org, hook, secret string
	body                   func(id int) []byte

	mu       sync.Mutex
	attempts []attempt
	accepted map[int]bool
}

func (s *sender) run(ctx context.Context, n, concurrency int, paceEvery time.Duration) {
	s.accepted = make(map[int]bool, n)
	ids := make(chan int, n)
	for i := 1; i <= n; i++ {
		ids <- i
	}
	var pending sync.WaitGroup
	pending.Add(n)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case id, ok := <-ids:
					if !ok {
						return
					}
					if paceEvery > 0 {
						time.Sleep(paceEvery)
					}
					if s.deliver(ctx, client, id) {
						pending.Done()
						continue
					}
					go func() { // retry later, as Hardenize does
						select {
						case <-ctx.Done():
						case <-time.After(200 * time.Millisecond):
							ids <- id
						}
					}()
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	close(ids)
	wg.Wait()
}

func (s *sender) deliver(ctx context.Context, client *http.Client, id int) bool {
	body := s.body(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set(queue.HeaderOrg, s.org)
	req.Header.Set(queue.HeaderHookID, s.hook)
	req.Header.Set(queue.HeaderSignature, verify.Sign(s.secret, time.Now(), body))
	start := time.Now()
	code := 0
	if resp, err := client.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		code = resp.StatusCode
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, attempt{id: id, start: start, took: time.Since(start), code: code})
	if code == http.StatusNoContent {
		s.accepted[id] = true
		return true
	}
	return false
}

func (s *sender) count204() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accepted)
}

func (s *sender) snapshot() []attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]attempt(nil), s.attempts...)
}

// eventBody is a minimal Hardenize event with a given id; the receiver checks only the envelope.
func eventBody(typ string) func(id int) []byte {
	return func(id int) []byte {
		return []byte(fmt.Sprintf(`{"id":%d,"type":%q,"createdOn":"2026-11-24T12:00:00Z","apiVersion":"1.0","data":{"message":"event %s"}}`,
			id, typ, strconv.Itoa(id)))
	}
}
