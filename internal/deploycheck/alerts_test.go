package deploycheck

import (
	"regexp"
	"slices"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/queue"
)

// streamUse finds stream names in a PromQL expression.
var streamUse = regexp.MustCompile(`stream_name="([^"]*)"`)

// checkAlerts: the alerts the issue asks for exist, and every metric and label they read is one the
// code exports (histogram series by their base name) or one the NATS exporter of the manifest
// exports. Without monitoring (a chart rendered with its defaults) there is no PrometheusRule.
func checkAlerts(t tb, o overlay, m *manifest) {
	rules := each[*prometheusRule](m)
	if o.noMonitoring {
		assert.Empty(t, rules, "monitoring is off, yet there is a PrometheusRule")
		return
	}
	known := series(codeMetrics(t))
	require.NotEmpty(t, rules, "no PrometheusRule")
	var alerts []string
	for _, pr := range rules {
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				require.NotEmpty(t, r.Alert, "PrometheusRule %s group %s: only alerting rules expected", pr.Metadata.Name, g.Name)
				alerts = append(alerts, r.Alert)
				assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], "alert %s severity", r.Alert)
				assert.NotEmpty(t, r.Annotations["summary"], "alert %s summary", r.Alert)
				for _, p := range queryProblems(known, r.Expr, "") {
					t.Errorf("alert %s: %s", r.Alert, p)
				}
				for _, s := range streamUse.FindAllStringSubmatch(r.Expr, -1) {
					assert.Contains(t, []string{queue.StreamEvents, queue.StreamJournal, queue.StreamDLQ}, s[1], "alert %s: unknown stream", r.Alert)
				}
			}
		}
	}
	for _, want := range []string{"HzhookDeadLettersGrowing", "HzhookRejectionSpike", "HzhookConsumerLag", "HzhookReceiver5xx", "HzhookCertSyncFailing"} {
		assert.Contains(t, alerts, want, "missing alert")
	}
	if o.externalNATS != "" {
		return // the existing cluster's own exporter is scraped, outside the manifest
	}
	exporter := false
	for _, w := range m.workloads() {
		for _, c := range w.Template.Spec.Containers {
			exporter = exporter || slices.Contains(c.Args, "-jsz=all")
		}
	}
	assert.True(t, exporter, "the alerts read jetstream_* metrics, but no container runs prometheus-nats-exporter -jsz=all")
}
