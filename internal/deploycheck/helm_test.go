package deploycheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/hzhook/hzhook/internal/tracing"
)

// chartDir is the Helm chart, relative to the repository root.
const chartDir = "deploy/helm/hzhook"

// chartNamespace is the namespace the chart is rendered into: the kustomize overlays' namespace, so
// the two renderings can be compared object by object.
const chartNamespace = "hzhook"

// chartKubeVersion is the oldest Kubernetes the chart supports (Chart.yaml kubeVersion); rendering
// against it proves the chart needs nothing newer.
const chartKubeVersion = "1.32.0"

// chartValues are the values one rendering of the chart is given.
type chartValues struct {
	files []string // values files, relative to the repository root
	set   []string // --set key=value
}

// chartRenderings are the chart renderings the checks run on: its defaults, the values that give the
// prod overlay's deployment, and an existing NATS cluster instead of the chart's own.
func chartRenderings() []overlay {
	return []overlay{
		{name: "helm defaults", chart: &chartValues{}, receiverReplicas: 1, natsReplicas: 1, workerScaler: "HorizontalPodAutoscaler", noMonitoring: true},
		{name: "helm values-prod.yaml", chart: &chartValues{files: []string{chartDir + "/values-prod.yaml"}}, receiverReplicas: 3, natsReplicas: 3, workerScaler: "ScaledObject"},
		{
			name:             "helm with hooks, Pub/Sub, database, token and sinks filled in",
			chart:            &chartValues{files: []string{"internal/deploycheck/testdata/helm-filled-values.yaml"}},
			receiverReplicas: 1, natsReplicas: 1, workerScaler: "HorizontalPodAutoscaler", hooksFilled: true, noMonitoring: true,
		},
		{
			name: "helm with an existing NATS cluster",
			chart: &chartValues{set: []string{
				"nats.enabled=false",
				"nats.external.url=nats://nats.messaging.svc.cluster.local:4222",
				"nats.external.streamReplicas=3",
				"nats.external.monitoringEndpoint=nats-headless.messaging.svc.cluster.local:8222",
				"workers.autoscaling.mode=keda",
				"metrics.serviceMonitor.enabled=true",
				"metrics.prometheusRule.enabled=true",
			}},
			receiverReplicas: 1, natsReplicas: 3, workerScaler: "ScaledObject",
			externalNATS: "nats://nats.messaging.svc.cluster.local:4222",
		},
	}
}

// helm returns the helm CLI: $HELM (make test sets it to the one `make tools` builds), else
// bin/tools/helm, else helm on PATH. Missing, it fails the test under CI=true and skips it elsewhere.
func helm(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("HELM"), filepath.Join(repoRoot(t), "bin", "tools", "helm")}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	path, err := exec.LookPath("helm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("helm is required under CI=true to render %s (make tools builds it into bin/tools): %v", chartDir, err)
		}
		t.Skipf("helm not found (make tools builds it into bin/tools), %s not checked", chartDir)
	}
	return path
}

// runHelm runs helm with its own empty configuration, cache and data directories, so nothing of the
// user's helm set-up (repositories, plugins) changes the result. It returns stdout, stderr and the
// exit error.
func runHelm(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	home := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm(t), args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// templateArgs are the arguments of `helm template` for a set of values.
func templateArgs(v chartValues) []string {
	args := []string{"template", "hzhook", chartDir, "--namespace", chartNamespace, "--kube-version", chartKubeVersion}
	for _, f := range v.files {
		args = append(args, "--values", f)
	}
	for _, s := range v.set {
		args = append(args, "--set", s)
	}
	return args
}

// renderChart renders the chart with the real Helm engine (`helm template`).
func renderChart(t *testing.T, v chartValues) string {
	t.Helper()
	stdout, stderr, err := runHelm(t, templateArgs(v)...)
	require.NoError(t, err, "helm %s: %s", strings.Join(templateArgs(v), " "), stderr)
	return stdout
}

// TestChart renders the chart with each set of values and runs every check the kustomize overlays
// pass on it.
func TestChart(t *testing.T) {
	for _, o := range chartRenderings() {
		t.Run(o.name, func(t *testing.T) {
			runChecks(t, o, parse(t, o.name, o.render(t)))
		})
	}
}

// TestChartLint: helm lint --strict passes with the defaults and with values-prod.yaml.
func TestChartLint(t *testing.T) {
	for _, v := range []chartValues{{}, {files: []string{chartDir + "/values-prod.yaml"}}} {
		args := []string{"lint", "--strict", chartDir, "--kube-version", chartKubeVersion}
		for _, f := range v.files {
			args = append(args, "--values", f)
		}
		stdout, stderr, err := runHelm(t, args...)
		require.NoError(t, err, "helm %s:\n%s%s", strings.Join(args, " "), stdout, stderr)
	}
}

// TestChartExistingSecrets: with every Secret given as an existing one (kubectl create secret, Sealed
// Secrets, External Secrets), the chart renders none of its own and the pods read the given names
// and keys.
func TestChartExistingSecrets(t *testing.T) {
	m := parse(t, "helm existing Secrets", renderChart(t, chartValues{set: []string{
		"hooks.existingSecret=my-hooks", "pubsub.existingSecret=my-pubsub",
		"database.existingSecret=my-db", "database.existingSecretKey=url",
		"admin.existingSecret=my-admin", "alerts.existingSecret=my-alerts",
	}}))
	assert.Empty(t, each[*corev1.Secret](m), "the chart renders Secrets although existing ones are named")
	for _, w := range m.workloads() {
		pod := w.Template.Spec
		for _, v := range pod.Volumes {
			if v.Secret != nil {
				assert.Contains(t, []string{"my-hooks", "my-pubsub"}, v.Secret.SecretName, "%s volume %s", w, v.Name)
			}
		}
		for _, c := range pod.Containers {
			for _, e := range c.Env {
				if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
					want := map[string]string{"HZ_DB_URL": "my-db/url", "HZ_ADMIN_TOKEN": "my-admin/HZ_ADMIN_TOKEN"}[e.Name]
					assert.Equal(t, want, ref.SecretKeyRef.Name+"/"+ref.SecretKeyRef.Key, "%s %s", w, e.Name)
				}
			}
			for _, from := range c.EnvFrom {
				if from.SecretRef != nil {
					assert.Equal(t, "my-alerts", from.SecretRef.Name, "%s envFrom", w)
				}
			}
		}
	}
}

// TestChartTraces: otel.endpoint (and the protocol, sampler and otel.env) reach the receiver and
// every worker group as the standard OTEL_* variables, which tracing.FromEnv accepts as the binaries
// would; without an endpoint the chart sets none, and tracing stays off.
func TestChartTraces(t *testing.T) {
	cases := []struct {
		name     string
		values   chartValues
		exporter string // "" = off
	}{
		{"defaults", chartValues{}, ""},
		{"filled in", chartValues{files: []string{"internal/deploycheck/testdata/helm-filled-values.yaml"}}, "otlp grpc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := parse(t, "helm "+tc.name, renderChart(t, tc.values))
			for _, h := range m.hzContainers(t) {
				tr, err := tracing.FromEnv(t.Context(), tracing.Options{ServiceName: "hzhook-" + h.binary,
					LookupEnv: func(k string) (string, bool) { v, ok := h.env[k]; return v, ok }})
				require.NoError(t, err, "%s", h)
				assert.Equal(t, tc.exporter, tr.Exporter, "%s", h)
				require.NoError(t, tr.ShutdownWithin(time.Second))
				if tc.exporter == "" {
					for k := range h.env {
						assert.False(t, strings.HasPrefix(k, "OTEL_"), "%s sets %s without otel.endpoint", h, k)
					}
					continue
				}
				assert.Equal(t, "http://otel-collector.observability:4317", h.env["OTEL_EXPORTER_OTLP_ENDPOINT"], "%s", h)
				assert.Equal(t, "parentbased_traceidratio", h.env["OTEL_TRACES_SAMPLER"], "%s", h)
				assert.Equal(t, "0.25", h.env["OTEL_TRACES_SAMPLER_ARG"], "%s", h)
				assert.Equal(t, "deployment.environment.name=prod", h.env["OTEL_RESOURCE_ATTRIBUTES"], "%s", h)
			}
		})
	}
}
