package deploycheck

import "testing"

// overlay is what each kustomize overlay must provide beyond the shared invariants.
type overlay struct {
	name             string
	receiverReplicas int32  // at least
	natsReplicas     int32  // the NATS cluster size, which HZ_STREAM_REPLICAS must equal
	workerScaler     string // kind of the object scaling each worker Deployment
	hooksFilled      bool   // the hooks Secret holds a loadable file (false: a placeholder to fill in)
}

func overlays() []overlay {
	return []overlay{
		{name: "dev", receiverReplicas: 1, natsReplicas: 1, workerScaler: "HorizontalPodAutoscaler", hooksFilled: true},
		{name: "prod", receiverReplicas: 3, natsReplicas: 3, workerScaler: "ScaledObject"},
	}
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

// TestOverlays renders each overlay once and runs every check on it.
func TestOverlays(t *testing.T) {
	for _, o := range overlays() {
		t.Run(o.name, func(t *testing.T) {
			m := parse(t, o.name, renderYAML(t, o.name))
			for _, c := range checks() {
				t.Run(c.name, func(t *testing.T) { c.fn(t, o, m) })
			}
		})
	}
}
