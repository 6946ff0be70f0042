package deploycheck

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/receiver"
	"github.com/hzhook/hzhook/internal/verify"
	"github.com/hzhook/hzhook/internal/worker"
)

// hooksSecretName is the Secret holding the receiver's hooks file. It must keep this name (no
// kustomize hash suffix): an updated Secret then reaches the running pods' volume, and the receiver
// reloads it without a restart.
const hooksSecretName = "hzhook-hooks"

// drainMargin is the time the receiver needs after its in-flight requests finished: draining the
// NATS connection and exiting.
const drainMargin = 5 * time.Second

// checkEnvNames: every variable set on an hzhook container is one its binary's config definitions read.
func checkEnvNames(t tb, _ overlay, m *manifest) {
	for _, h := range m.hzContainers(t) {
		known := envNames(h.binary)
		for name := range h.env {
			assert.True(t, known[name], "%s sets %s, which %s does not read (see %s --help)", h, name, h.binary, h.binary)
		}
	}
}

// checkConfigValid: the binaries' own parser and Validate accept what the manifests set.
func checkConfigValid(t tb, _ overlay, m *manifest) {
	for _, h := range m.hzContainers(t) {
		_, err := parseConfig(h)
		assert.NoError(t, err, "%s", h)
	}
}

// checkProbes: liveness and startup on /healthz, readiness on /readyz, on the container port the
// admin listener binds, on an address the kubelet reaches; the paths answer 200 on the real admin
// server.
func checkProbes(t tb, _ overlay, m *manifest) {
	reg := prometheus.NewRegistry()
	admin := handlers.NewAdminServer(reg, reg, slog.New(slog.DiscardHandler))
	for _, h := range m.hzContainers(t) {
		cfg, err := parseConfig(h)
		require.NoError(t, err, "%s", h)
		adminAddr, listen := "", ""
		switch c := cfg.(type) {
		case *receiver.Config:
			adminAddr, listen = c.AdminListen, c.Listen
		case *worker.Config:
			adminAddr = c.AdminListen
		}
		adminPort, reachable := port(t, adminAddr)
		assert.True(t, reachable, "%s: admin listener %s is loopback only; probes and Prometheus cannot reach it (set HZ_ADMIN_LISTEN=:%d)", h, adminAddr, adminPort)
		declared, ok := containerPortOf(h.c, intstr.FromInt32(int32(adminPort)))
		assert.True(t, ok, "%s: admin port %d is not a declared container port", h, adminPort)
		assert.Equal(t, "admin", declared.Name, "%s: name the admin port \"admin\" (services, policies and monitors use the name)", h)
		if listen != "" {
			webhookPort, reachable := port(t, listen)
			assert.True(t, reachable, "%s: webhook listener %s is loopback only", h, listen)
			declared, ok := containerPortOf(h.c, intstr.FromInt32(int32(webhookPort)))
			assert.True(t, ok && declared.Name == "webhook", "%s: webhook port %d must be declared and named \"webhook\"", h, webhookPort)
		}

		probes := []struct {
			kind     string
			probe    *corev1.Probe
			path     string
			required bool
		}{
			{"liveness", h.c.LivenessProbe, "/healthz", true},
			{"readiness", h.c.ReadinessProbe, "/readyz", true},
			{"startup", h.c.StartupProbe, "/healthz", false},
		}
		for _, p := range probes {
			if p.probe == nil {
				assert.False(t, p.required, "%s has no %s probe", h, p.kind)
				continue
			}
			if !assert.NotNil(t, p.probe.HTTPGet, "%s: %s probe must be an HTTP GET", h, p.kind) {
				continue
			}
			assert.Equal(t, p.path, p.probe.HTTPGet.Path, "%s %s probe path", h, p.kind)
			target, ok := containerPortOf(h.c, p.probe.HTTPGet.Port)
			assert.True(t, ok && int(target.ContainerPort) == adminPort, "%s: %s probe port %s is not the admin port %d", h, p.kind, p.probe.HTTPGet.Port.String(), adminPort)

			rec := httptest.NewRecorder()
			admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.probe.HTTPGet.Path, nil))
			assert.Equal(t, http.StatusOK, rec.Code, "%s: the admin server does not serve %s", h, p.probe.HTTPGet.Path)
		}
	}
}

// checkShutdown: every hzhook pod gets its whole HZ_SHUTDOWN_TIMEOUT (after any preStop pause) before
// it is killed. The receiver also keeps serving while it leaves the endpoints (a preStop sleep:
// the image has no shell) and rollouts never take a receiver away before its replacement is ready.
func checkShutdown(t tb, _ overlay, m *manifest) {
	for _, h := range m.hzContainers(t) {
		eff := effective(h)
		require.NotNil(t, eff, "%s: settings do not parse", h)
		var preStop time.Duration
		if lc := h.c.Lifecycle; lc != nil && lc.PreStop != nil && lc.PreStop.Sleep != nil {
			preStop = time.Duration(lc.PreStop.Sleep.Seconds) * time.Second
		}
		if h.binary == "receiver" {
			assert.GreaterOrEqual(t, preStop, 5*time.Second, "%s: needs a preStop sleep of at least 5s so endpoint removal reaches the ingress before SIGTERM", h)
			for _, d := range each[*appsv1.Deployment](m) {
				if d.Name == h.w.Name && d.Spec.Strategy.RollingUpdate != nil {
					mu := d.Spec.Strategy.RollingUpdate.MaxUnavailable
					assert.True(t, mu != nil && mu.Type == intstr.Int && mu.IntVal == 0, "%s: rolling updates must keep every receiver until its replacement is ready (maxUnavailable: 0)", h)
				}
			}
		}
		raw, ok := eff["shutdown-timeout"]
		if !ok {
			continue
		}
		shutdown, err := time.ParseDuration(raw)
		require.NoError(t, err, "%s: shutdown-timeout", h)
		grace := 30 * time.Second
		if g := h.w.Template.Spec.TerminationGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		assert.GreaterOrEqual(t, grace, preStop+shutdown+drainMargin,
			"%s: terminationGracePeriodSeconds must cover preStop (%s) + HZ_SHUTDOWN_TIMEOUT (%s) + drain (%s)", h, preStop, shutdown, drainMargin)
	}
}

// secretFile finds the Secret behind a file a setting names: the file's directory must be mounted
// whole (a subPath mount never sees Secret updates) from a Secret volume.
func secretFile(t tb, m *manifest, h hzContainer, file string) (secretName string, content string, present bool) {
	t.Helper()
	var mount *corev1.VolumeMount
	for i, vm := range h.c.VolumeMounts {
		if vm.MountPath == path.Dir(file) {
			mount = &h.c.VolumeMounts[i]
		}
	}
	require.NotNil(t, mount, "%s: no volume is mounted at %s, the directory of %s", h, path.Dir(file), file)
	assert.Empty(t, mount.SubPath, "%s: a subPath mount never sees Secret updates; mount the directory", h)
	for _, v := range h.w.Template.Spec.Volumes {
		if v.Name == mount.Name && v.Secret != nil {
			secretName = v.Secret.SecretName
		}
	}
	require.NotEmpty(t, secretName, "%s: %s is not mounted from a Secret", h, path.Dir(file))
	s := m.secret(secretName)
	if s == nil {
		return secretName, "", false
	}
	content, present = secretData(s, path.Base(file))
	return secretName, content, present
}

// checkHooksSecret: HZ_SECRETS_FILE comes from the hooks Secret, under its stable name, and holds a
// hooks file the receiver loads (dev) or a placeholder that keeps it from starting (prod). The
// Pub/Sub files, when set, come from a mounted Secret too.
func checkHooksSecret(t tb, o overlay, m *manifest) {
	for _, h := range m.hzContainers(t) {
		if h.binary != "receiver" {
			continue
		}
		eff := effective(h)
		require.NotNil(t, eff, "%s: settings do not parse", h)
		file := eff["secrets-file"]
		name, content, ok := secretFile(t, m, h, file)
		require.Equal(t, hooksSecretName, name, "%s: HZ_SECRETS_FILE must come from Secret %s (stable name, no hash suffix)", h, hooksSecretName)
		require.True(t, ok, "Secret %s has no key %s", name, path.Base(file))

		tmp := filepath.Join(t.TempDir(), path.Base(file))
		require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
		_, err := verify.LoadStore(tmp, slog.New(slog.DiscardHandler), nil)
		if o.hooksFilled {
			assert.NoError(t, err, "Secret %s: the receiver cannot load its hooks file", name)
		} else {
			assert.Error(t, err, "Secret %s: the placeholder hooks file must keep the receiver from starting until it is filled in", name)
		}

		for _, setting := range []string{"pubsub-credentials", "pubsub-destination"} {
			if f := eff[setting]; f != "" {
				name, _, ok := secretFile(t, m, h, f)
				assert.True(t, ok, "%s: --%s %s is not a key of Secret %s", h, setting, f, name)
			}
		}
	}
}
