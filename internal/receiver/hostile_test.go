package receiver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

// Hostile clients get an answer or a closed connection within the listener's timeouts, and good
// traffic keeps flowing meanwhile.
func TestHostileRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("hostile-request test waits for server timeouts")
	}
	h := startHarness(t, func(c *Config) { c.MaxBodyBytes = 1 << 20; c.MaxInFlight = 32 })
	addr := strings.TrimPrefix(strings.Split(h.app.WebhookURL(), "/hardenize")[0], "http://")
	dial := func(t *testing.T) net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	statusOf := func(t *testing.T, c net.Conn, within time.Duration) string {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(within)))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return "closed"
		}
		return strings.TrimSpace(line)
	}

	// Good traffic runs beside every hostile case below and must always be stored.
	stopGood := make(chan struct{})
	var good sync.WaitGroup
	good.Add(1)
	// A good delivery may be shed with 429 while the flood fills the in-flight limit (Hardenize
	// sends it again); it is never answered anything else, nor dropped on the wire.
	var goodSent, goodStored, goodShed int
	go func() {
		defer good.Done()
		for i := 0; ; i++ {
			select {
			case <-stopGood:
				return
			case <-time.After(50 * time.Millisecond):
			}
			body, err := events.Sample(events.TypeTest, 0, time.Now())
			if err != nil {
				return
			}
			req, _ := http.NewRequest(http.MethodPost, h.app.WebhookURL(), bytes.NewReader(body))
			req.Header.Set(queue.HeaderOrg, testOrg)
			req.Header.Set(queue.HeaderHookID, testHook)
			req.Header.Set(queue.HeaderSignature, verify.Sign(testSecret, time.Now(), body))
			resp, err := http.DefaultClient.Do(req)
			goodSent++
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusNoContent:
					goodStored++
				case http.StatusTooManyRequests:
					goodShed++
				}
			}
		}
	}()

	t.Run("slowloris headers are cut off", func(t *testing.T) {
		c := dial(t)
		_, err := io.WriteString(c, "POST /hardenize/events HTTP/1.1\r\nHost: x\r\n")
		require.NoError(t, err)
		start := time.Now()
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			for i := 0; i < 60; i++ {
				if _, err := io.WriteString(c, "X"); err != nil {
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
		}()
		st := statusOf(t, c, 15*time.Second)
		assert.True(t, st == "closed" || strings.HasPrefix(st, "HTTP/1.1 4"), st)
		assert.Less(t, time.Since(start), 15*time.Second)
		c.Close()
		<-closed
	})

	t.Run("100 MiB chunked body answers 413", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "POST /hardenize/events HTTP/1.1\r\nHost: x\r\n%s: %s\r\n%s: %s\r\n%s: t=1; hmac-sha256=%s\r\nTransfer-Encoding: chunked\r\n\r\n",
			queue.HeaderOrg, testOrg, queue.HeaderHookID, testHook, queue.HeaderSignature, strings.Repeat("0", 64))
		go func() {
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 1<<20, bytes.Repeat([]byte("a"), 1<<20))
			for i := 0; i < 100; i++ {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
			}
		}()
		assert.Equal(t, "HTTP/1.1 413 Request Entity Too Large", statusOf(t, c, 30*time.Second))
	})

	t.Run("10,000 headers answer 431", func(t *testing.T) {
		c := dial(t)
		var b strings.Builder
		b.WriteString("POST /hardenize/events HTTP/1.1\r\nHost: x\r\n")
		for i := 0; i < 10000; i++ {
			fmt.Fprintf(&b, "X-H-%d: v\r\n", i)
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		go func() { _, _ = io.WriteString(c, b.String()) }()
		assert.Equal(t, "HTTP/1.1 431 Request Header Fields Too Large", statusOf(t, c, 15*time.Second))
	})

	t.Run("invalid UTF-8 and huge nesting answer 400", func(t *testing.T) {
		now := time.Now()
		bodies := map[string][]byte{
			"invalid utf-8 body":  []byte("{\"id\":1,\"type\":\"\xff\xfe\",\"createdOn\":\"2026-01-01T00:00:00Z\",\"data\":{}}"),
			"huge json nesting":   []byte(strings.Repeat("[", 500000) + strings.Repeat("]", 500000)),
			"deep object nesting": []byte(`{"id":1,"type":"test","createdOn":"2026-01-01T00:00:00Z","data":` + strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000) + "}"),
		}
		for name, body := range bodies {
			resp, text := h.send(signed(t, body, now))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, name+": "+text)
		}
		d := signed(t, []byte(`{}`), now)
		d.org = "\xff\xfeorg"
		resp, _ := h.send(d)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("flood from one client", func(t *testing.T) {
		var wg sync.WaitGroup
		codes := make(chan int, 2000)
		body := sample(t, events.TypeTest, 0)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		// A connection the transport dialled but never used is new to the server, which a
		// shutdown waits 5 s to close (as long as the harness's shutdown timeout): close them.
		defer client.CloseIdleConnections()
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 30; i++ {
					req, _ := http.NewRequest(http.MethodPost, h.app.WebhookURL(), bytes.NewReader(body))
					req.Header.Set(queue.HeaderOrg, testOrg)
					req.Header.Set(queue.HeaderHookID, testHook)
					req.Header.Set(queue.HeaderSignature, "t=1; hmac-sha256="+strings.Repeat("0", 64))
					resp, err := client.Do(req)
					if err != nil {
						codes <- 0
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					codes <- resp.StatusCode
				}
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusTooManyRequests}, c)
		}
	})

	close(stopGood)
	good.Wait()
	assert.Positive(t, goodStored)
	assert.Equal(t, goodSent, goodStored+goodShed, "good traffic stored throughout (%d shed with 429)", goodShed)
	resp, err := http.Get(h.app.AdminURL() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, h.readyz(), http.StatusOK)
}
