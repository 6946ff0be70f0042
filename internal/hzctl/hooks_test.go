package hzctl

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/verify"
)

func newAPI(t *testing.T) *hardenizetest.Server {
	t.Helper()
	api := hardenizetest.NewServer(org)
	t.Cleanup(api.Close)
	return api
}

func apiEnv(extra map[string]string) Env {
	m := map[string]string{"HZ_API_USER": hardenizetest.User, "HZ_API_PASSWORD": hardenizetest.Password}
	for k, v := range extra {
		m[k] = v
	}
	return env(m)
}

func runHzctl(t *testing.T, e Env, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, eo bytes.Buffer
	code = Main(context.Background(), args, IO{Out: &o, Err: &eo, Env: e})
	return code, o.String(), eo.String()
}

func loadHooks(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := readSecretsFile(path)
	require.NoError(t, err)
	out := map[string][]string{}
	for _, h := range f.Hooks {
		out[h.Org+"/"+h.ID] = h.Secrets
	}
	_, err = verify.LoadStore(path, nil, nil)
	require.NoError(t, err, "the receiver accepts the file")
	return out
}

func TestHooksSetupEnablesAVerifiedHook(t *testing.T) {
	app, secrets := startReceiverWithFile(t)
	api := newAPI(t)
	code, out, errOut := runHzctl(t, apiEnv(nil), "hooks", "setup", "--api-url", api.URL+"/v1/org/{org}/", "--org", org,
		"--destination", app.WebhookURL(), "--types", "ct.entry,pki.cert.new", "--secrets-file", secrets, "--wait", "30s")
	require.Equal(t, 0, code, out+errOut)

	hooks := api.Hooks()
	require.Len(t, hooks, 1)
	h := hooks[0]
	assert.Equal(t, hardenize.StatusEnabled, h.Status)
	assert.Equal(t, []string{"ct.entry", "pki.cert.new"}, h.EventTypes)
	assert.Equal(t, map[string][]string{org + "/" + hook: {secret}, org + "/" + h.ID: {h.Secret}}, loadHooks(t, secrets), "the new hook is added, the old kept")

	assert.Contains(t, out, "10 of 10 tests passed")
	assert.Contains(t, out, "hook "+h.ID+" enabled")
	for _, row := range []string{"ct.entry      none       204       204     pass", "pki.cert.new  signature  400       400     pass"} {
		assert.Contains(t, out, row)
	}
	assert.NotContains(t, out, h.Secret, "the secret is never printed")
	require.Len(t, api.TestCalls(), 10)

	ev, err := api.AddEvent("ct.entry", time.Now())
	require.NoError(t, err)
	status, err := api.Deliver(context.Background(), h.ID, ev)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, status, "real deliveries of the new hook are accepted")
}

func TestHooksSetupFailsAndKeepsTheHookDisabledWhenTheReceiverIsWrong(t *testing.T) {
	// Hardenize delivers to the destination's receiver, which never learns the new secret; the
	// file setup writes belongs to another receiver (the one --receiver-url checks).
	destination, _ := startReceiverWithFile(t)
	other, otherSecrets := startReceiverWithFile(t)
	api := newAPI(t)
	code, out, errOut := runHzctl(t, apiEnv(nil), "hooks", "setup", "--api-url", api.BaseURL(), "--org", org,
		"--destination", destination.WebhookURL(), "--types", "ct.entry", "--secrets-file", otherSecrets,
		"--receiver-url", other.WebhookURL(), "--wait", "30s")
	t.Log("\n" + out + errOut)
	assert.Equal(t, 1, code)
	h := api.Hooks()[0]
	assert.Equal(t, hardenize.StatusDisabled, h.Status, "never enabled after a failed test")
	assert.Contains(t, out, "ct.entry    none       204       400     FAIL    Expected 202 or 204 status code")
	assert.Contains(t, out, "ct.entry    hookId     400       400     pass")
	assert.Contains(t, out, "4 of 5 tests passed")
	assert.Contains(t, errOut, "tests failed: hook "+h.ID+" left disabled")
}

func TestHooksTestShowsAWrongSecret(t *testing.T) {
	app, _ := startReceiverWithFile(t)
	api := newAPI(t)
	// The receiver knows the hook's id, but with another secret.
	api.AddHook(hardenize.EventHook{ID: hook, Secret: "0123456789abcdef0123456789abcdef", EventTypes: []string{"pki.cert.new"}, Destination: app.WebhookURL()})
	code, out, errOut := runHzctl(t, apiEnv(nil), "hooks", "test", "--api-url", api.BaseURL(), "--org", org, "--hook", hook)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "pki.cert.new  none       204       400     FAIL")
	assert.Contains(t, out, "4 of 5 tests passed")
	assert.Contains(t, errOut, "tests failed")
}

func TestHooksRotateKeepsDeliveriesWorking(t *testing.T) {
	app, secrets := startReceiverWithFile(t)
	api := newAPI(t)
	old := api.AddHook(hardenize.EventHook{ID: hook, Secret: secret, EventTypes: []string{"ct.entry"}, Status: hardenize.StatusEnabled, Destination: app.WebhookURL()})
	code, out, errOut := runHzctl(t, apiEnv(nil), "hooks", "rotate", "--api-url", api.BaseURL(), "--org", org, "--hook", old.ID,
		"--secrets-file", secrets, "--wait", "30s")
	require.Equal(t, 0, code, out+errOut)

	hooks := api.Hooks()
	require.Len(t, hooks, 1, "the old hook is deleted")
	h := hooks[0]
	assert.NotEqual(t, old.ID, h.ID)
	assert.NotEqual(t, old.Secret, h.Secret)
	assert.Equal(t, hardenize.StatusEnabled, h.Status)
	assert.Equal(t, old.Destination, h.Destination)
	assert.Equal(t, old.EventTypes, h.EventTypes)
	assert.Equal(t, map[string][]string{org + "/" + old.ID: {old.Secret}, org + "/" + h.ID: {h.Secret}}, loadHooks(t, secrets),
		"the old hook stays in the file for Hardenize's retries")
	assert.Contains(t, out, "hook "+old.ID+" replaced by "+h.ID)

	ev, err := api.AddEvent("ct.entry", time.Now())
	require.NoError(t, err)
	status, err := api.Deliver(context.Background(), h.ID, ev)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, status)
}

func TestHooksSetupPrintsAKubernetesSecret(t *testing.T) {
	app, secrets := startReceiverWithFile(t)
	api := newAPI(t)
	out := &testenv.Buffer{}
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), []string{"hooks", "setup", "--api-url", api.BaseURL(), "--org", org,
			"--destination", app.WebhookURL(), "--types", "ct.entry", "--secrets-file", secrets,
			"--k8s-secret", "hzhook-hooks", "--k8s-namespace", "hz", "--wait", "30s"}, IO{Out: out, Err: &errOut, Env: apiEnv(nil)})
	}()
	// Play kubectl apply: copy the manifest's hooks.yaml to the mounted file.
	var manifest string
	require.Eventually(t, func() bool {
		manifest = out.String()
		return strings.Contains(manifest, "hooks.yaml: |") && len(api.Hooks()) == 1 && strings.Contains(manifest, api.Hooks()[0].ID)
	}, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, manifest, "kind: Secret\nmetadata:\n  name: hzhook-hooks\n  namespace: hz\n")
	_, yamlPart, _ := strings.Cut(manifest, "hooks.yaml: |\n")
	var unindented []string
	for _, line := range strings.Split(yamlPart, "\n") {
		unindented = append(unindented, strings.TrimPrefix(line, "    "))
	}
	require.NoError(t, os.WriteFile(secrets, []byte(strings.Join(unindented, "\n")), 0o600))
	require.Equal(t, 0, <-done, errOut.String())
	assert.Len(t, loadHooks(t, secrets), 2)
	assert.Equal(t, hardenize.StatusEnabled, api.Hooks()[0].Status)
	assert.Contains(t, errOut.String(), "5 of 5 tests passed", "the table goes to stderr when stdout holds the manifest")
}

func TestHooksSimpleSubcommands(t *testing.T) {
	api := newAPI(t)
	h := api.AddHook(hardenize.EventHook{EventTypes: []string{"ct.entry"}, Status: hardenize.StatusDisabled, Destination: "https://example.com/hz"})
	base := []string{"--api-url", api.BaseURL(), "--org", org, "--hook", h.ID}

	code, out, errOut := runHzctl(t, apiEnv(nil), append([]string{"hooks", "enable"}, base...)...)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "hook "+h.ID+" is enabled\n", out)
	code, out, _ = runHzctl(t, apiEnv(nil), "hooks", "list", "--api-url", api.BaseURL(), "--org", org)
	require.Equal(t, 0, code)
	assert.Contains(t, out, h.ID+"  webhook  enabled  ct.entry     https://example.com/hz")
	assert.NotContains(t, out, h.Secret)
	code, out, _ = runHzctl(t, apiEnv(nil), append([]string{"hooks", "disable"}, base...)...)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "is disabled")
	code, _, _ = runHzctl(t, apiEnv(nil), append([]string{"hooks", "delete"}, base...)...)
	require.Equal(t, 0, code)
	assert.Empty(t, api.Hooks())

	code, _, errOut = runHzctl(t, apiEnv(nil), append([]string{"hooks", "delete"}, base...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404 Not Found: event hook not found")

	code, _, errOut = runHzctl(t, env(nil), "hooks", "list", "--api-url", api.BaseURL(), "--org", org)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "set HZ_API_USER and HZ_API_PASSWORD, or --credentials FILE")

	creds := filepath.Join(t.TempDir(), "creds")
	require.NoError(t, os.WriteFile(creds, []byte(hardenizetest.User+":"+hardenizetest.Password), 0o600))
	code, _, errOut = runHzctl(t, env(nil), "hooks", "list", "--api-url", api.BaseURL(), "--org", org, "--credentials", creds)
	assert.Equal(t, 0, code, errOut)

	code, out, _ = runHzctl(t, env(nil), "hooks", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "rotate")
	code, _, errOut = runHzctl(t, env(nil), "hooks", "setup", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "--k8s-secret")
}
