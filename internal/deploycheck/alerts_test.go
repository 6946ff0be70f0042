package deploycheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/queue"
)

// exporterMetrics are the metrics the alerts take from prometheus-nats-exporter run with -jsz=all
// beside each NATS node, rather than from hzhook's own code.
func exporterMetrics() []string {
	return []string{"jetstream_consumer_num_pending", "jetstream_stream_total_messages"}
}

var (
	// metricDefinition finds a metric name defined in Go: Name: "hz_...".
	metricDefinition = regexp.MustCompile(`Name:\s*"(hz_[a-z0-9_]+)"`)
	// metricUse finds metric names in a PromQL expression.
	metricUse = regexp.MustCompile(`\b(hz_[a-z0-9_]+|jetstream_[a-z0-9_]+)\b`)
	// streamUse finds stream names in a PromQL expression.
	streamUse = regexp.MustCompile(`stream_name="([^"]*)"`)
)

// codeMetrics returns every hz_ metric name defined in the non-test Go files under internal/.
func codeMetrics(t tb) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	root := filepath.Join(repoRoot(t), "internal")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range metricDefinition.FindAllStringSubmatch(string(src), -1) {
			names[m[1]] = true
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, names, "no hz_ metric definitions found under %s", root)
	return names
}

// checkAlerts: the alerts the issue asks for exist, and every metric they read is one the code
// defines (histogram series by their base name) or one the NATS exporter of the manifest exports.
func checkAlerts(t tb, _ overlay, m *manifest) {
	defined := codeMetrics(t)
	rules := each[*prometheusRule](m)
	require.NotEmpty(t, rules, "no PrometheusRule")
	var alerts []string
	for _, pr := range rules {
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				require.NotEmpty(t, r.Alert, "PrometheusRule %s group %s: only alerting rules expected", pr.Metadata.Name, g.Name)
				alerts = append(alerts, r.Alert)
				assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], "alert %s severity", r.Alert)
				assert.NotEmpty(t, r.Annotations["summary"], "alert %s summary", r.Alert)
				uses := metricUse.FindAllStringSubmatch(r.Expr, -1)
				assert.NotEmpty(t, uses, "alert %s reads no known metric", r.Alert)
				for _, u := range uses {
					name := u[1]
					if strings.HasPrefix(name, "jetstream_") {
						assert.Contains(t, exporterMetrics(), name, "alert %s: %s is not an exporter metric this test knows", r.Alert, name)
						continue
					}
					base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
					assert.True(t, defined[name] || defined[base], "alert %s reads %s, which no Go code under internal/ defines", r.Alert, name)
				}
				for _, s := range streamUse.FindAllStringSubmatch(r.Expr, -1) {
					assert.Contains(t, []string{queue.StreamEvents, queue.StreamDLQ}, s[1], "alert %s: unknown stream", r.Alert)
				}
			}
		}
	}
	for _, want := range []string{"HzhookDeadLettersGrowing", "HzhookRejectionSpike", "HzhookConsumerLag", "HzhookReceiver5xx"} {
		assert.Contains(t, alerts, want, "missing alert")
	}
	exporter := false
	for _, w := range m.workloads() {
		for _, c := range w.Template.Spec.Containers {
			exporter = exporter || slices.Contains(c.Args, "-jsz=all")
		}
	}
	assert.True(t, exporter, "the alerts read jetstream_* metrics, but no container runs prometheus-nats-exporter -jsz=all")
}
