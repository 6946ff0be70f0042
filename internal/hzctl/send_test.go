package hzctl

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hzhook/hzhook/internal/receiver"
	"github.com/hzhook/hzhook/internal/receiver/receivertest"
	"github.com/hzhook/hzhook/internal/verify"
)

const (
	org    = "demo"
	hook   = "bfc384726b6447a4b70a171de49e466f"
	secret = "3685c06a966e4d0ea625d0b475719661"
)

// startReceiver boots a real receiver (embedded JetStream) with one hook.
func startReceiver(t *testing.T) *receiver.App {
	t.Helper()
	app, _ := startReceiverWithFile(t)
	return app
}

// startReceiverWithFile boots a real receiver whose secrets file (holding the demo hook) is
// returned too, for tests that change it.
func startReceiverWithFile(t *testing.T) (*receiver.App, string) {
	t.Helper()
	secrets := receivertest.WriteHooks(t, t.TempDir(), verify.Hook{Org: org, ID: hook, Secrets: []string{secret}})
	return receivertest.Start(t, secrets, nil), secrets
}

func TestSendEveryVariant(t *testing.T) {
	app := startReceiver(t)
	tests := []struct {
		typ, invalid string
		wantOut      string
	}{
		{"test", "none", "204 No Content (expected 204)"},
		{"ct.entry", "none", "204 No Content (expected 204)"},
		{"pki.cert.new", "none", "204 No Content (expected 204)"},
		{"test", "hookId", "400 Bad Request (expected 400)"},
		{"test", "org", "400 Bad Request (expected 400)"},
		{"ct.entry", "payload", "400 Bad Request (expected 400)"},
		{"pki.cert.new", "signature", "400 Bad Request (expected 400)"},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.invalid, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), []string{"send", "--url", app.WebhookURL(), "--org", org, "--hook", hook,
				"--type", tc.typ, "--invalid", tc.invalid},
				IO{Out: &out, Err: &errOut, Env: env(map[string]string{"HZ_HOOK_SECRET": secret})})
			assert.Equal(t, 0, code, errOut.String())
			assert.Contains(t, out.String(), tc.wantOut)
		})
	}
}

func TestSendReportsUnexpectedAnswer(t *testing.T) {
	app := startReceiver(t)
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"send", "--url", app.WebhookURL(), "--org", org, "--hook", hook, "--secret", "not-the-right-secret"},
		IO{Out: &out, Err: &errOut, Env: env(nil)})
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "400 Bad Request (expected 204)")
	assert.Contains(t, errOut.String(), "receiver answered 400, expected 204")
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, Main(context.Background(), []string{"--help"}, IO{Out: &out, Err: &errOut, Env: env(nil)}))
	assert.Contains(t, out.String(), "send")
	assert.Equal(t, 2, Main(context.Background(), []string{"nope"}, IO{Out: &out, Err: &errOut, Env: env(nil)}))
	assert.Contains(t, errOut.String(), `unknown command "nope"`)
	errOut.Reset()
	assert.Equal(t, 0, Main(context.Background(), []string{"send", "--help"}, IO{Out: &out, Err: &errOut, Env: env(nil)}))
	assert.Contains(t, errOut.String(), "--invalid")
	assert.Equal(t, 1, Main(context.Background(), []string{"send"}, IO{Out: &out, Err: &errOut, Env: env(nil)}))
	assert.Contains(t, errOut.String(), "--org, --hook and --secret")
}

func env(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
