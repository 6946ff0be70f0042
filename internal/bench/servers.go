package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
)

// ServeBare answers every POST with 204 after draining the body, on echo like the receiver.
func ServeBare(ctx context.Context, ln net.Listener) error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/*", func(c echo.Context) error {
		_, _ = io.Copy(io.Discard, c.Request().Body)
		return c.NoContent(http.StatusNoContent)
	})
	return serve(ctx, ln, e)
}

// HandRolled is the reference receiver: net/http, an HMAC check over t;body, and one synchronous
// JetStream publish per request, as in a typical hand-written webhook handler.
type HandRolled struct {
	Secret string
	JS     nats.JetStreamContext
}

// ServeHTTP implements http.Handler.
func (h *HandRolled) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	var ts, sig string
	for _, part := range strings.Split(r.Header.Get("X-Hardenize-Signature"), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "hmac-sha256":
			sig = v
		}
	}
	mac := hmac.New(sha256.New, []byte(h.Secret))
	mac.Write([]byte(ts + ";"))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	if ms, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.UnixMilli(ms)).Abs() > 5*time.Minute {
		http.Error(w, "stale", http.StatusBadRequest)
		return
	}
	var ev struct {
		ID   json.Number `json:"id"`
		Type string      `json:"type"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	subject := "hz.events." + strings.ReplaceAll(ev.Type, ".", "_")
	if _, err := h.JS.Publish(subject, body, nats.MsgId(r.Header.Get("X-Hardenize-Org")+"/"+r.Header.Get("X-Hardenize-EventHookId")+"/"+ev.ID.String())); err != nil {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ServeHandRolled runs the reference receiver on ln, publishing through natsURL into HZ_EVENTS,
// which it creates with replicas copies when it is missing.
func ServeHandRolled(ctx context.Context, ln net.Listener, natsURL, secret string, replicas int) error {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := js.StreamInfo("HZ_EVENTS"); err != nil {
		if _, err := js.AddStream(&nats.StreamConfig{Name: "HZ_EVENTS", Subjects: []string{"hz.events.*"}, Storage: nats.FileStorage, Replicas: max(replicas, 1)}); err != nil {
			return fmt.Errorf("add stream: %w", err)
		}
	}
	return serve(ctx, ln, &HandRolled{Secret: secret, JS: js})
}

func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
