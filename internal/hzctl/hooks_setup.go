package hzctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
)

// receiverFlags say where a new hook's secret goes and how to reach the receiver that must load it.
type receiverFlags struct {
	SecretsFile  string
	K8sSecret    string
	K8sNamespace string
	K8sManifest  string
	ReceiverURL  string
	Wait         time.Duration
}

func bindReceiver(set *config.Set, r *receiverFlags) {
	set.String(&r.SecretsFile, "secrets-file", "HZ_SECRETS_FILE", "", "receiver's hooks file: the new hook is added (atomically; other hooks kept)")
	set.String(&r.K8sSecret, "k8s-secret", "", "", "instead of writing --secrets-file, print a Kubernetes Secret of this name holding --secrets-file's hooks plus the new one")
	set.String(&r.K8sNamespace, "k8s-namespace", "", "", "namespace of the --k8s-secret manifest")
	set.String(&r.K8sManifest, "k8s-manifest", "", "-", "file the --k8s-secret manifest is written to (- = standard output; other output then goes to standard error)")
	set.String(&r.ReceiverURL, "receiver-url", "", "", "webhook URL to check the receiver loaded the hook (default: the hook's destination)")
	set.Duration(&r.Wait, "wait", "", 2*time.Minute, "longest wait for the receiver to load the new secret")
}

func (r receiverFlags) check() error {
	if r.SecretsFile == "" && r.K8sSecret == "" {
		return errors.New("--secrets-file or --k8s-secret is required: the receiver must learn the hook's secret")
	}
	return nil
}

// messages is where progress lines go: standard error when the manifest takes standard output.
func (r receiverFlags) messages(cio IO) io.Writer {
	if r.K8sSecret != "" && (r.K8sManifest == "" || r.K8sManifest == "-") {
		return cio.Err
	}
	return cio.Out
}

// publish hands the hook's secret to the receiver: into the secrets file, or as a manifest.
func (r receiverFlags) publish(cio IO, msg io.Writer, org string, h hardenize.EventHook) error {
	f, err := readSecretsFile(r.SecretsFile)
	if err != nil {
		return err
	}
	f.addSecret(org, h.ID, h.Secret)
	if r.K8sSecret == "" {
		if err := f.write(r.SecretsFile); err != nil {
			return err
		}
		fmt.Fprintf(msg, "hook %s added to %s\n", h.ID, r.SecretsFile)
		return nil
	}
	m, err := f.manifest(r.K8sSecret, r.K8sNamespace)
	if err != nil {
		return err
	}
	if r.K8sManifest == "" || r.K8sManifest == "-" {
		_, err = cio.Out.Write(m)
		return err
	}
	if err := os.WriteFile(r.K8sManifest, m, 0o600); err != nil {
		return fmt.Errorf("--k8s-manifest: %w", err)
	}
	fmt.Fprintf(msg, "Secret manifest written to %s: kubectl apply -f %s\n", r.K8sManifest, r.K8sManifest)
	return nil
}

// waitLoaded sends signed test events with the hook's secret until the receiver answers 204.
func (r receiverFlags) waitLoaded(ctx context.Context, msg io.Writer, org string, h hardenize.EventHook) error {
	url := r.ReceiverURL
	if url == "" {
		url = h.Destination
	}
	fmt.Fprintf(msg, "waiting up to %s for the receiver at %s to accept hook %s\n", r.Wait, url, h.ID)
	ctx, cancel := context.WithTimeout(ctx, r.Wait)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	last := "no answer yet"
	for {
		req, err := buildSend(ctx, sendOptions{URL: url, Org: org, Hook: h.ID, Secret: h.Secret, Type: events.TypeTest, Invalid: InvalidNone, ID: 0}, time.Now())
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
			last = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
		} else if ctx.Err() == nil {
			last = err.Error()
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("receiver at %s did not accept hook %s within %s (last answer: %s)", url, h.ID, r.Wait, last)
		case <-t.C:
		}
	}
}

// testRow is one ;test call of the matrix.
type testRow struct {
	Type, Invalid string
	Expected      string
	Answer        int
	Pass          bool
	Detail        string
}

// testMatrix runs ;test for each type with every invalid variant and prints the table. It reports
// whether every row passed.
func testMatrix(ctx context.Context, c *hardenize.Client, w io.Writer, hookID string, types []string) bool {
	var rows []testRow
	for _, typ := range types {
		for _, inv := range append([]string{hardenize.InvalidNone}, hardenize.InvalidVariants...) {
			row := testRow{Type: typ, Invalid: inv, Expected: "204", Pass: false}
			if inv != hardenize.InvalidNone {
				row.Expected = "400"
			}
			res, err := c.TestEventHook(ctx, hookID, typ, inv)
			if err != nil {
				row.Detail = err.Error()
			} else {
				row.Answer, row.Pass, row.Detail = res.StatusCode(), res.Successful, res.ErrorMessage
				if !res.Successful && res.Webhook != nil && res.Webhook.Response.Body != "" {
					body := strings.Join(strings.Fields(res.Webhook.Response.Body), " ")
					row.Detail += "; receiver said: " + body[:min(len(body), 120)]
				}
			}
			rows = append(rows, row)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT TYPE\tINVALID\tEXPECTED\tANSWER\tRESULT\tDETAIL")
	failed := 0
	for _, r := range rows {
		result, answer := "pass", "-"
		if !r.Pass {
			result = "FAIL"
			failed++
		}
		if r.Answer != 0 {
			answer = strconv.Itoa(r.Answer)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Type, r.Invalid, r.Expected, answer, result, r.Detail)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d of %d tests passed\n", len(rows)-failed, len(rows))
	return failed == 0
}

func runHooksSetup(ctx context.Context, args []string, cio IO) error {
	var (
		a     apiFlags
		r     receiverFlags
		dest  string
		types []string
	)
	set := config.NewSet("hzctl hooks setup", cio.Env)
	bindAPI(set, &a)
	bindReceiver(set, &r)
	set.String(&dest, "destination", "", "", "webhook URL Hardenize will POST events to (HTTPS)")
	set.List(&types, "types", "", []string{events.TypeCTEntry, events.TypeCertNew}, "event types the hook receives")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	if dest == "" || len(types) == 0 {
		return errors.New("--destination and --types are required")
	}
	if err := r.check(); err != nil {
		return err
	}
	c, err := a.client(cio)
	if err != nil {
		return err
	}
	msg := r.messages(cio)
	h, err := c.CreateEventHook(ctx, hardenize.CreateEventHookRequest{HookType: hardenize.HookTypeWebhook, EventTypes: types, Destination: dest, Status: hardenize.StatusDisabled})
	if err != nil {
		return err
	}
	fmt.Fprintf(msg, "hook %s created (disabled) for %s -> %s\n", h.ID, strings.Join(types, ","), dest)
	return verifyAndEnable(ctx, c, cio, r, msg, h, types)
}

// verifyAndEnable gives the receiver the hook's secret, waits until it is loaded, runs the test
// matrix and enables the hook only when every test passed.
func verifyAndEnable(ctx context.Context, c *hardenize.Client, cio IO, r receiverFlags, msg io.Writer, h hardenize.EventHook, types []string) error {
	left := fmt.Sprintf("hook %s left disabled (fix the receiver, then: hzctl hooks test --hook %[1]s && hzctl hooks enable --hook %[1]s; or hzctl hooks delete --hook %[1]s)", h.ID)
	if err := r.publish(cio, msg, c.Org(), h); err != nil {
		return fmt.Errorf("%w; %s", err, left)
	}
	if err := r.waitLoaded(ctx, msg, c.Org(), h); err != nil {
		return fmt.Errorf("%w; %s", err, left)
	}
	if !testMatrix(ctx, c, msg, h.ID, types) {
		return errors.New("tests failed: " + left)
	}
	if _, err := c.UpdateEventHook(ctx, h.ID, hardenize.UpdateEventHookRequest{Status: hardenize.StatusEnabled}); err != nil {
		return fmt.Errorf("every test passed but enabling failed: %w", err)
	}
	fmt.Fprintf(msg, "hook %s enabled\n", h.ID)
	return nil
}

func runHooksTest(ctx context.Context, args []string, cio IO) error {
	var (
		a     apiFlags
		id    string
		types []string
	)
	set := config.NewSet("hzctl hooks test", cio.Env)
	bindAPI(set, &a)
	set.String(&id, "hook", "", "", "event hook id")
	set.List(&types, "types", "", nil, "event types to test (default: the hook's)")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	if id == "" {
		return errors.New("--hook is required")
	}
	c, err := a.client(cio)
	if err != nil {
		return err
	}
	if len(types) == 0 {
		h, err := c.GetEventHook(ctx, id)
		if err != nil {
			return err
		}
		types = h.EventTypes
	}
	if !testMatrix(ctx, c, cio.Out, id, types) {
		return errors.New("tests failed")
	}
	return nil
}

// runHooksRotate replaces a hook by a new one. The API cannot give a hook a new secret
// (UpdateEventHookRequest has eventTypes, destination and status only), so rotation creates a new
// hook with the same destination and types, adds its secret beside the old hook's, verifies it,
// enables it and only then disables and deletes the old hook. While both are enabled an event may
// be delivered by both, stored once per hook id; processing is idempotent, so nothing is lost and
// nothing is counted twice.
func runHooksRotate(ctx context.Context, args []string, cio IO) error {
	var (
		a       apiFlags
		r       receiverFlags
		id      string
		keepOld bool
	)
	set := config.NewSet("hzctl hooks rotate", cio.Env)
	bindAPI(set, &a)
	bindReceiver(set, &r)
	set.String(&id, "hook", "", "", "id of the hook whose secret is replaced")
	set.Bool(&keepOld, "keep-old", "", false, "disable the old hook instead of deleting it")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	if id == "" {
		return errors.New("--hook is required")
	}
	if err := r.check(); err != nil {
		return err
	}
	c, err := a.client(cio)
	if err != nil {
		return err
	}
	msg := r.messages(cio)
	old, err := c.GetEventHook(ctx, id)
	if err != nil {
		return err
	}
	if old.HookType != hardenize.HookTypeWebhook {
		return fmt.Errorf("hook %s is a %s hook: only webhook hooks can be rotated here", id, old.HookType)
	}
	h, err := c.CreateEventHook(ctx, hardenize.CreateEventHookRequest{HookType: hardenize.HookTypeWebhook, EventTypes: old.EventTypes, Destination: old.Destination, Status: hardenize.StatusDisabled})
	if err != nil {
		return err
	}
	fmt.Fprintf(msg, "hook %s created (disabled) to replace %s\n", h.ID, old.ID)
	if err := verifyAndEnable(ctx, c, cio, r, msg, h, old.EventTypes); err != nil {
		return fmt.Errorf("%w; hook %s is unchanged", err, old.ID)
	}
	if _, err := c.UpdateEventHook(ctx, old.ID, hardenize.UpdateEventHookRequest{Status: hardenize.StatusDisabled}); err != nil {
		return fmt.Errorf("new hook %s enabled, but disabling the old one failed: %w", h.ID, err)
	}
	if !keepOld {
		if err := c.DeleteEventHook(ctx, old.ID); err != nil {
			return fmt.Errorf("new hook %s enabled and old hook %s disabled, but deleting it failed: %w", h.ID, old.ID, err)
		}
	}
	fmt.Fprintf(msg, "hook %s replaced by %s; keep %[1]s in the secrets file until Hardenize stops retrying its deliveries (24h), then remove it\n", old.ID, h.ID)
	return nil
}
