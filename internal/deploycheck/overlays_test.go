package deploycheck

import "testing"

// overlay is one rendering of the deployment, a kustomize overlay of deploy/k8s or the Helm chart
// with a set of values, and what it must provide beyond the shared invariants.
type overlay struct {
	name             string
	chart            *chartValues // nil: the kustomize overlay deploy/k8s/overlays/<name>
	receiverReplicas int32        // at least
	natsReplicas     int32        // the NATS cluster size, which HZ_STREAM_REPLICAS must equal
	workerScaler     string       // kind of the object scaling each worker Deployment
	hooksFilled      bool         // the hooks Secret holds a loadable file (false: a placeholder to fill in)
	noMonitoring     bool         // no ServiceMonitor or PrometheusRule (Prometheus Operator CRDs)
	externalNATS     string       // HZ_NATS_URL of a NATS cluster outside the manifest
}

func overlays() []overlay {
	return []overlay{
		{name: "dev", receiverReplicas: 1, natsReplicas: 1, workerScaler: "HorizontalPodAutoscaler", hooksFilled: true},
		{name: "prod", receiverReplicas: 3, natsReplicas: 3, workerScaler: "ScaledObject"},
	}
}

// render returns the rendered YAML stream of the overlay or chart.
func (o overlay) render(t *testing.T) string {
	t.Helper()
	if o.chart != nil {
		return renderChart(t, *o.chart)
	}
	return renderYAML(t, o.name)
}

// check is one invariant of a rendered overlay.
type check struct {
	name string
	fn   func(t tb, o overlay, m *manifest)
}

func checks() []check {
	return []check{
		{"containers run non-root, read-only, unprivileged", checkSecurity},
		{"containers declare resources", checkResources},
		{"volumes and their sources exist", checkVolumes},
		{"hzhook containers set only variables the binaries read", checkEnvNames},
		{"hzhook containers get a configuration the binaries accept", checkConfigValid},
		{"probes hit health and readiness on the admin listener", checkProbes},
		{"pods finish in-flight work before they are killed", checkShutdown},
		{"files named by settings come from mounted Secrets", checkHooksSecret},
		{"the rules file is mounted from a ConfigMap and valid", checkRulesFile},
		{"ingress publishes only the webhook path over TLS", checkIngress},
		{"services select pods and target declared ports", checkServices},
		{"NATS URL names a service, stream replicas match NATS", checkNATS},
		{"nats.conf is one nats-server accepts, syncing every write", checkNATSConfig},
		{"disruption budgets select pods and allow drains", checkPDBs},
		{"network policies select pods and name declared ports", checkNetworkPolicies},
		{"each deployment has exactly one autoscaler", checkAutoscalers},
		{"workers cover every event type with their own consumer", checkWorkers},
		{"spread constraints select their own pods", checkSpread},
		{"service monitors select services and their ports", checkServiceMonitors},
		{"alerts use metrics that are exported", checkAlerts},
		{"the Grafana dashboard ConfigMap holds deploy/grafana/hzhook.json", checkDashboardConfigMap},
	}
}

// runChecks runs every check on a rendered overlay, each as a subtest.
func runChecks(t *testing.T, o overlay, m *manifest) {
	for _, c := range checks() {
		t.Run(c.name, func(t *testing.T) { c.fn(t, o, m) })
	}
}

// TestOverlays renders each kustomize overlay once and runs every check on it.
func TestOverlays(t *testing.T) {
	for _, o := range overlays() {
		t.Run(o.name, func(t *testing.T) {
			runChecks(t, o, parse(t, o.name, o.render(t)))
		})
	}
}
