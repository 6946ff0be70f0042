package deploycheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// renderNotes renders the chart's NOTES.txt as `helm install` would print it. helm template leaves
// NOTES.txt out and helm install needs a cluster even for --dry-run=client, so it renders a copy of
// the chart in which NOTES.txt is the text of a YAML document, the template notes-preview.yaml.
func renderNotes(t *testing.T, v chartValues) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), chartDir)
	dst := filepath.Join(t.TempDir(), "hzhook")
	require.NoError(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == filepath.Join("templates", "NOTES.txt") {
			rel = filepath.Join("templates", "notes-preview.yaml")
			b = []byte("{{- define \"notes-preview\" }}\n" + string(b) + "\n{{- end }}\nnotes: |\n{{ include \"notes-preview\" . | indent 2 }}\n")
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	}))
	args := append([]string{"template", "hzhook", dst, "--show-only", "templates/notes-preview.yaml"}, templateArgs(v)[3:]...) // the chart copy instead of chartDir
	stdout, stderr, err := runHelm(t, args...)
	require.NoError(t, err, "rendering NOTES.txt: %s", stderr)
	var doc struct{ Notes string }
	require.NoError(t, yaml.Unmarshal([]byte(stdout), &doc), "notes-preview.yaml")
	return doc.Notes
}

// TestChartNotes: after an install with the defaults, NOTES.txt lists what is still to fill in
// (hooks, database, admin token, ingress host) and how to watch the rollout and send a test event;
// once everything is filled in the list is gone and the commands name the real host.
func TestChartNotes(t *testing.T) {
	defaults := renderNotes(t, chartValues{})
	for _, want := range []string{
		"Before hzhook receives events:",
		"1. hooks: none are set, so the receiver refuses to start",
		"database.url is the placeholder",
		"the worker API answers 401",
		"ingress.host is the placeholder hooks.example.com",
		"kubectl label namespace hzhook pod-security.kubernetes.io/enforce=restricted",
		"kubectl -n hzhook rollout status statefulset/nats",
		"kubectl -n hzhook rollout status deployment/worker-ct-entry",
		"kubectl -n hzhook rollout status deployment/worker-pki-cert-new",
		"Workers scale on CPU",
		"No ServiceMonitor or PrometheusRule",
		"hzctl send --url https://hooks.example.com/hardenize/events",
	} {
		assert.Contains(t, defaults, want)
	}

	filled := renderNotes(t, chartValues{files: []string{chartDir + "/values-prod.yaml", "internal/deploycheck/testdata/helm-filled-values.yaml"}})
	assert.NotContains(t, filled, "Before hzhook receives events:")
	assert.NotContains(t, filled, "kubectl label namespace", "values-prod.yaml renders the namespace with its labels")
	for _, want := range []string{
		"3 node(s), streams with 3 replica(s)",
		"their consumer's lag (KEDA ScaledObjects",
		"ServiceMonitors hzhook and nats, PrometheusRule hzhook",
		"hzctl send --url https://hooks.example.org/hardenize/events",
	} {
		assert.Contains(t, filled, want)
	}

	external := renderNotes(t, chartValues{set: []string{"nats.enabled=false", "nats.external.url=nats://nats.messaging:4222", "ingress.enabled=false"}})
	assert.Contains(t, external, "the existing cluster at nats://nats.messaging:4222")
	assert.NotContains(t, external, "statefulset/nats")
	assert.Contains(t, external, "port-forward svc/receiver 8080:8080")
}
