package hzctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

type loadOptions struct {
	URL         string
	Org         string
	Hook        string
	Secret      string
	Rate        int
	Concurrency int
	Duration    time.Duration
	Size        int
	Timeout     time.Duration
	JSON        bool
}

// LoadReport is what hzctl load prints (--json prints it as is).
type LoadReport struct {
	Requests   int            `json:"requests"`
	Seconds    float64        `json:"seconds"`
	Throughput float64        `json:"throughput"` // answered requests per second
	BodyBytes  int            `json:"bodyBytes"`
	Answers    map[string]int `json:"answers"` // status code, or "error"
	FirstError string         `json:"firstError,omitempty"`
	LatencyMs  Percentiles    `json:"latencyMs"`
}

// Percentiles of the request latency, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func runLoad(ctx context.Context, args []string, cio IO) error {
	var o loadOptions
	set := config.NewSet("hzctl load", cio.Env)
	set.String(&o.URL, "url", "HZ_WEBHOOK_URL", "http://127.0.0.1:8080/hardenize/events", "receiver webhook URL")
	set.String(&o.Org, "org", "HZ_ORG", "", "organization label sent as X-Hardenize-Org")
	set.String(&o.Hook, "hook", "HZ_HOOK_ID", "", "event hook id sent as X-Hardenize-EventHookId (its secret: env HZ_HOOK_SECRET)")
	set.Int(&o.Rate, "rate", "", 100, "requests per second to start (0 = as fast as the workers go)")
	set.Int(&o.Concurrency, "concurrency", "", 8, "requests in flight at most (one keep-alive connection each)")
	set.Duration(&o.Duration, "duration", "", 10*time.Second, "how long to send; requests in flight then finish")
	set.Int(&o.Size, "size", "", 2048, "approximate body size in bytes (a ct.entry padded with an extra field)")
	set.Duration(&o.Timeout, "timeout", "", 10*time.Second, "timeout of one request")
	set.Bool(&o.JSON, "json", "", false, "print the report as JSON")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	o.Secret, _ = cio.Env("HZ_HOOK_SECRET")
	switch {
	case o.Org == "" || o.Hook == "" || o.Secret == "":
		return errors.New("--org, --hook and env HZ_HOOK_SECRET are required")
	case o.Rate < 0 || o.Concurrency < 1 || o.Duration <= 0 || o.Size < 0:
		return errors.New("--rate must be >= 0, --concurrency >= 1, --duration > 0 and --size >= 0")
	}
	rep, err := runLoadTest(ctx, o)
	if err != nil {
		return err
	}
	if o.JSON {
		return writeIndentedJSON(cio.Out, rep)
	}
	printLoadReport(cio.Out, rep)
	return nil
}

// loadBody builds bodies of about size bytes with a given event id, from one ct.entry sample.
type loadBody struct {
	head, tail []byte // "{"id":" + id + tail
}

func newLoadBody(size int, now time.Time) (loadBody, error) {
	sample, err := events.Sample(events.TypeCTEntry, 1, now)
	if err != nil {
		return loadBody{}, fmt.Errorf("load body: %w", err)
	}
	rest, ok := bytes.CutPrefix(sample, []byte(`{"id":1,`))
	if !ok {
		return loadBody{}, errors.New("load body: unexpected sample layout")
	}
	const field = `"hzLoadPadding":"",`
	pad := max(size-len(sample)-len(field), 0)
	tail := make([]byte, 0, len(field)+pad+len(rest)+1)
	tail = append(tail, ',')
	tail = append(tail, `"hzLoadPadding":"`...)
	tail = append(tail, bytes.Repeat([]byte{'x'}, pad)...)
	tail = append(tail, `",`...)
	tail = append(tail, rest...)
	return loadBody{head: []byte(`{"id":`), tail: tail}, nil
}

func (b loadBody) with(id int64) []byte {
	out := make([]byte, 0, len(b.head)+20+len(b.tail))
	out = append(out, b.head...)
	out = strconv.AppendInt(out, id, 10)
	return append(out, b.tail...)
}

type loadResult struct {
	latencies []time.Duration
	answers   map[string]int
	firstErr  string
}

// runLoadTest sends signed requests for o.Duration and reports. Every request is signed at the
// moment it is sent and carries a new event id, so none is a duplicate of another.
func runLoadTest(ctx context.Context, o loadOptions) (LoadReport, error) {
	body, err := newLoadBody(o.Size, time.Now())
	if err != nil {
		return LoadReport{}, err
	}
	transport := &http.Transport{
		Proxy: nil, MaxIdleConns: o.Concurrency, MaxIdleConnsPerHost: o.Concurrency,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: o.Timeout}

	start := time.Now()
	deadline := start.Add(o.Duration)
	sendCtx, stop := context.WithDeadline(ctx, deadline)
	defer stop()
	var tokens chan struct{}
	var wg sync.WaitGroup
	if o.Rate > 0 {
		tokens = make(chan struct{}, o.Concurrency)
		wg.Go(func() { paceTokens(sendCtx, tokens, o.Rate, start) })
	}
	var nextID atomic.Int64
	nextID.Store(time.Now().UnixMicro())
	results := make([]loadResult, o.Concurrency)
	for i := range results {
		results[i].answers = map[string]int{}
		wg.Go(func() {
			r := &results[i]
			for {
				if tokens != nil {
					if _, ok := <-tokens; !ok {
						return
					}
				} else if sendCtx.Err() != nil {
					return
				}
				// In-flight requests finish after the deadline: they use ctx, not sendCtx.
				lat, answer, err := sendOne(ctx, client, o, body.with(nextID.Add(1)))
				r.answers[answer]++
				if err != nil {
					if r.firstErr == "" {
						r.firstErr = err.Error()
					}
					continue
				}
				r.latencies = append(r.latencies, lat)
			}
		})
	}
	wg.Wait()
	return loadReportOf(results, time.Since(start), len(body.with(nextID.Load()))), nil
}

// pace issues rate tokens per second until ctx ends, then closes tokens. When every worker is busy
// the pacer waits, so the achieved rate shows in the report's throughput.
func paceTokens(ctx context.Context, tokens chan<- struct{}, rate int, start time.Time) {
	defer close(tokens)
	tick := time.NewTicker(max(time.Second/time.Duration(rate), time.Millisecond))
	defer tick.Stop()
	issued := 0
	for {
		due := int(time.Since(start).Seconds()*float64(rate)) + 1
		for ; issued < due; issued++ {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func sendOne(ctx context.Context, client *http.Client, o loadOptions, body []byte) (time.Duration, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "error", err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("User-Agent", "hzctl-load (hzhook)")
	req.Header.Set(queue.HeaderOrg, o.Org)
	req.Header.Set(queue.HeaderHookID, o.Hook)
	t0 := time.Now()
	req.Header.Set(queue.HeaderSignature, verify.Sign(o.Secret, t0, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, "error", err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // drained so the connection is reused
	resp.Body.Close()
	return time.Since(t0), strconv.Itoa(resp.StatusCode), nil
}

func loadReportOf(results []loadResult, elapsed time.Duration, bodyBytes int) LoadReport {
	rep := LoadReport{Answers: map[string]int{}, Seconds: elapsed.Seconds(), BodyBytes: bodyBytes}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		for k, v := range r.answers {
			rep.Answers[k] += v
			rep.Requests += v
		}
		if rep.FirstError == "" {
			rep.FirstError = r.firstErr
		}
	}
	if rep.Seconds > 0 {
		rep.Throughput = float64(len(all)) / rep.Seconds
	}
	slices.Sort(all)
	rep.LatencyMs = Percentiles{P50: percentileMs(all, 0.50), P90: percentileMs(all, 0.90), P99: percentileMs(all, 0.99), Max: percentileMs(all, 1)}
	return rep
}

// pct is the nearest-rank percentile of sorted, in milliseconds.
func percentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}

func printLoadReport(w io.Writer, r LoadReport) {
	codes := make([]string, 0, len(r.Answers))
	for k := range r.Answers {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	var answers []string
	for _, k := range codes {
		answers = append(answers, fmt.Sprintf("%s: %d", k, r.Answers[k]))
	}
	fmt.Fprintf(w, "requests    %d in %.1fs (body %d bytes)\n", r.Requests, r.Seconds, r.BodyBytes)
	fmt.Fprintf(w, "throughput  %.1f req/s\n", r.Throughput)
	fmt.Fprintf(w, "answers     %s\n", strings.Join(answers, "  "))
	fmt.Fprintf(w, "latency     p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", r.LatencyMs.P50, r.LatencyMs.P90, r.LatencyMs.P99, r.LatencyMs.Max)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error %s\n", r.FirstError)
	}
}
