package hzctl

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

// Invalid variants, mirroring the invalid parameter of Hardenize's ;test endpoint.
const (
	InvalidNone      = "none"
	InvalidHookID    = "hookId"
	InvalidOrg       = "org"
	InvalidPayload   = "payload"
	InvalidSignature = "signature"
)

type sendOptions struct {
	URL     string
	Org     string
	Hook    string
	Secret  string
	Type    string
	Invalid string
	ID      int64
	Body    string
	Timeout time.Duration
}

func runSend(ctx context.Context, args []string, cio IO) error {
	var o sendOptions
	set := config.NewSet("hzctl send", cio.Env)
	set.String(&o.URL, "url", "HZ_WEBHOOK_URL", "http://127.0.0.1:8080/hardenize/events", "receiver webhook URL")
	set.String(&o.Org, "org", "HZ_ORG", "", "organization label sent as X-Hardenize-Org")
	set.String(&o.Hook, "hook", "HZ_HOOK_ID", "", "event hook id sent as X-Hardenize-EventHookId")
	set.SecretString(&o.Secret, "secret", "HZ_HOOK_SECRET", "", "hook secret used to sign (prefer the env var outside development)")
	set.String(&o.Type, "type", "", events.TypeTest, "event type: test, ct.entry or pki.cert.new (with a freshly generated certificate)")
	set.String(&o.Invalid, "invalid", "", InvalidNone, "break one element as Hardenize's ;test does: none, hookId, org, payload or signature")
	set.Int64(&o.ID, "id", "", -1, "event id (default: 0 for test events, as Hardenize sends them, else random)")
	set.String(&o.Body, "body", "", "", "send this file as the body instead of a generated event")
	set.Duration(&o.Timeout, "timeout", "", 10*time.Second, "request timeout")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	if o.Org == "" || o.Hook == "" || o.Secret == "" {
		return fmt.Errorf("--org, --hook and --secret (or HZ_ORG, HZ_HOOK_ID, HZ_HOOK_SECRET) are required")
	}
	req, err := buildSend(ctx, o, time.Now())
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: o.Timeout}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("send to %s: %w", o.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))

	want := http.StatusNoContent
	if o.Invalid != InvalidNone {
		want = http.StatusBadRequest
	}
	fmt.Fprintf(cio.Out, "%d %s (expected %d)\n", resp.StatusCode, http.StatusText(resp.StatusCode), want)
	if len(body) > 0 {
		fmt.Fprintf(cio.Out, "%s\n", bytes.TrimSpace(body))
	}
	if resp.StatusCode != want {
		return fmt.Errorf("receiver answered %d, expected %d", resp.StatusCode, want)
	}
	return nil
}

// buildSend makes the signed request of one send, breaking the element o.Invalid names.
func buildSend(ctx context.Context, o sendOptions, now time.Time) (*http.Request, error) {
	var body []byte
	var err error
	if o.Body != "" {
		if body, err = os.ReadFile(o.Body); err != nil {
			return nil, fmt.Errorf("read --body: %w", err)
		}
	} else {
		id := o.ID
		if id < 0 {
			id = 0
			if o.Type != events.TypeTest {
				n, _ := rand.Int(rand.Reader, big.NewInt(1<<53))
				id = n.Int64() + 1
			}
		}
		if body, err = events.Sample(o.Type, id, now); err != nil {
			return nil, fmt.Errorf("--type %s: %w", o.Type, err)
		}
	}
	org, hook, secret := o.Org, o.Hook, o.Secret
	switch o.Invalid {
	case InvalidNone:
	case InvalidHookID:
		hook = randomHex(16)
	case InvalidOrg:
		org = "not-" + org
	case InvalidPayload:
		body = []byte(`{"id": "this is not a Hardenize event"`)
	case InvalidSignature:
		secret = randomHex(16)
	default:
		return nil, fmt.Errorf("--invalid %q: use none, hookId, org, payload or signature", o.Invalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("User-Agent", "hzctl (hzhook)")
	req.Header.Set(queue.HeaderOrg, org)
	req.Header.Set(queue.HeaderHookID, hook)
	req.Header.Set(queue.HeaderSignature, verify.Sign(secret, now, body))
	return req, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
