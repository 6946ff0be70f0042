package deploycheck

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// recorder is a tb that collects failures instead of failing the test, so a check can be run on a
// broken manifest and expected to complain.
type recorder struct {
	t    *testing.T
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) FailNow()        { runtime.Goexit() }
func (r *recorder) Helper()         {}
func (r *recorder) TempDir() string { return r.t.TempDir() }

// runCheck runs fn against m and returns what it reported.
func runCheck(t *testing.T, fn func(tb, overlay, *manifest), o overlay, m *manifest) []string {
	r := &recorder{t: t}
	done := make(chan struct{})
	go func() { // FailNow ends this goroutine, as it ends a test's
		defer close(done)
		fn(r, o, m)
	}()
	<-done
	return r.errs
}

// find returns the object of type T named name.
func find[T interface{ GetName() string }](t *testing.T, m *manifest, name string) T {
	t.Helper()
	for _, v := range each[T](m) {
		if v.GetName() == name {
			return v
		}
	}
	require.FailNow(t, "not in the manifest", "%T %s", *new(T), name)
	return *new(T)
}

// container returns a container of a Deployment or StatefulSet.
func container(t *testing.T, m *manifest, workloadName, name string) *corev1.Container {
	t.Helper()
	for _, w := range m.workloads() {
		for i, c := range w.Template.Spec.Containers {
			if w.Name == workloadName && c.Name == name {
				return &w.Template.Spec.Containers[i]
			}
		}
	}
	require.FailNow(t, "no such container", "%s/%s", workloadName, name)
	return nil
}

// receiverConfig returns the receiver's generated ConfigMap.
func receiverConfig(t *testing.T, m *manifest) *corev1.ConfigMap {
	t.Helper()
	for _, cm := range each[*corev1.ConfigMap](m) {
		if strings.HasPrefix(cm.Name, "receiver-config") {
			return cm
		}
	}
	require.FailNow(t, "no receiver-config ConfigMap")
	return nil
}

// TestChecksCatchMistakes breaks the prod manifest in one way per case and expects the check for
// that mistake to report it, so a check that silently passes everything cannot go unnoticed.
func TestChecksCatchMistakes(t *testing.T) {
	prod := overlays()[1]
	require.Equal(t, "prod", prod.name)
	rendered := renderYAML(t, prod.name)
	require.Empty(t, runAll(t, prod, parse(t, prod.name, rendered)), "the unmodified prod overlay must pass every check")

	cases := []struct {
		name   string
		check  func(tb, overlay, *manifest)
		want   string // part of the expected complaint
		mutate func(t *testing.T, m *manifest)
	}{
		{"readiness probe on /healthz", checkProbes, "readiness probe path", func(t *testing.T, m *manifest) {
			container(t, m, "receiver", "receiver").ReadinessProbe.HTTPGet.Path = "/healthz"
		}},
		{"probe on the webhook port", checkProbes, "not the admin port", func(t *testing.T, m *manifest) {
			container(t, m, "receiver", "receiver").LivenessProbe.HTTPGet.Port = intstr.FromString("webhook")
		}},
		{"probe path the admin server does not serve", checkProbes, "does not serve", func(t *testing.T, m *manifest) {
			container(t, m, "worker-ct-entry", "worker").StartupProbe.HTTPGet.Path = "/health"
		}},
		{"admin listener on loopback", checkProbes, "loopback only", func(t *testing.T, m *manifest) {
			receiverConfig(t, m).Data["HZ_ADMIN_LISTEN"] = "127.0.0.1:9090"
		}},
		{"variable the receiver does not read", checkEnvNames, "HZ_ADMIN_TOKEN", func(t *testing.T, m *manifest) {
			receiverConfig(t, m).Data["HZ_ADMIN_TOKEN"] = "x"
		}},
		{"misspelled worker variable", checkEnvNames, "HZ_TYPE,", func(t *testing.T, m *manifest) {
			c := container(t, m, "worker-ct-entry", "worker")
			c.Env = append(c.Env, corev1.EnvVar{Name: "HZ_TYPE", Value: "ct.entry"})
		}},
		{"setting the receiver refuses", checkConfigValid, "HZ_SIGNATURE_TOLERANCE", func(t *testing.T, m *manifest) {
			receiverConfig(t, m).Data["HZ_SIGNATURE_TOLERANCE"] = "soon"
		}},
		{"writable root file system", checkSecurity, "readOnlyRootFilesystem", func(t *testing.T, m *manifest) {
			off := false
			container(t, m, "nats", "nats").SecurityContext.ReadOnlyRootFilesystem = &off
		}},
		{"root user", checkSecurity, "uid 0", func(t *testing.T, m *manifest) {
			root := int64(0)
			container(t, m, "nats", "exporter").SecurityContext.RunAsUser = &root
		}},
		{"added capability", checkSecurity, "adds capabilities", func(t *testing.T, m *manifest) {
			c := container(t, m, "receiver", "receiver")
			c.SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}},
		{"no memory limit", checkResources, "no memory limit", func(t *testing.T, m *manifest) {
			delete(container(t, m, "worker-pki-cert-new", "worker").Resources.Limits, corev1.ResourceMemory)
		}},
		{"grace period shorter than the shutdown", checkShutdown, "terminationGracePeriodSeconds", func(t *testing.T, m *manifest) {
			grace := int64(20)
			find[*appsv1.Deployment](t, m, "receiver").Spec.Template.Spec.TerminationGracePeriodSeconds = &grace
		}},
		{"worker killed before its shutdown timeout", checkShutdown, "HZ_SHUTDOWN_TIMEOUT", func(t *testing.T, m *manifest) {
			grace := int64(10)
			find[*appsv1.Deployment](t, m, "worker-ct-entry").Spec.Template.Spec.TerminationGracePeriodSeconds = &grace
		}},
		{"Pub/Sub credentials outside the mounted Secret", checkHooksSecret, "no volume is mounted at /etc", func(t *testing.T, m *manifest) {
			receiverConfig(t, m).Data["HZ_PUBSUB_CREDENTIALS"] = "/etc/credentials.json"
		}},
		{"hooks file through subPath", checkHooksSecret, "subPath", func(t *testing.T, m *manifest) {
			c := container(t, m, "receiver", "receiver")
			for i := range c.VolumeMounts {
				if c.VolumeMounts[i].Name == "hooks" {
					c.VolumeMounts[i].SubPath = "hooks.yaml"
				}
			}
		}},
		{"ingress publishes everything", checkIngress, "publishes /", func(t *testing.T, m *manifest) {
			find[*networkingv1.Ingress](t, m, "receiver").Spec.Rules[0].HTTP.Paths[0].Path = "/"
		}},
		{"service targets an undeclared port", checkServices, "does not declare", func(t *testing.T, m *manifest) {
			find[*corev1.Service](t, m, "worker-api").Spec.Ports[0].TargetPort = intstr.FromString("api")
		}},
		{"stream replicas differ from the NATS nodes", checkNATS, "HZ_STREAM_REPLICAS", func(t *testing.T, m *manifest) {
			receiverConfig(t, m).Data["HZ_STREAM_REPLICAS"] = "1"
		}},
		{"JetStream acknowledging before the disk has the write", checkNATSConfig, "sync_interval: always", func(t *testing.T, m *manifest) {
			cm := m.configMap(find[*appsv1.StatefulSet](t, m, "nats").Spec.Template.Spec.Volumes[0].ConfigMap.Name)
			cm.Data["nats.conf"] = strings.Replace(cm.Data["nats.conf"], "sync_interval: always", `sync_interval: "2m"`, 1)
		}},
		{"routes missing a node", checkNATSConfig, "every node", func(t *testing.T, m *manifest) {
			cm := m.configMap(find[*appsv1.StatefulSet](t, m, "nats").Spec.Template.Spec.Volumes[0].ConfigMap.Name)
			cm.Data["nats.conf"] = strings.Replace(cm.Data["nats.conf"], "nats://nats-2.nats-headless:6222", "", 1)
		}},
		{"budget selecting no pods", checkPDBs, "selects no pods", func(t *testing.T, m *manifest) {
			find[*policyv1.PodDisruptionBudget](t, m, "receiver").Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "reciever"
		}},
		{"policy on an undeclared port", checkNetworkPolicies, "does not declare", func(t *testing.T, m *manifest) {
			np := find[*networkingv1.NetworkPolicy](t, m, "receiver-webhook-from-ingress")
			p := intstr.FromString("http")
			np.Spec.Ingress[0].Ports[0].Port = &p
		}},
		{"two autoscalers on one worker", checkAutoscalers, "exactly one autoscaler", func(t *testing.T, m *manifest) {
			find[*autoscalingv2.HorizontalPodAutoscaler](t, m, "receiver").Spec.ScaleTargetRef.Name = "worker-ct-entry"
		}},
		{"KEDA watching another consumer", checkWorkers, "hz-worker-ct_entry", func(t *testing.T, m *manifest) {
			for _, so := range each[*scaledObject](m) {
				if so.Spec.ScaleTargetRef.Name == "worker-ct-entry" {
					so.Spec.Triggers[0].Metadata["consumer"] = "hz-worker-ct.entry"
				}
			}
		}},
		{"spread constraint counting other pods", checkSpread, "does not select its own pods", func(t *testing.T, m *manifest) {
			spec := &find[*appsv1.Deployment](t, m, "receiver").Spec.Template.Spec
			spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels = map[string]string{"app.kubernetes.io/component": "worker"}
		}},
		{"monitor on a port services lack", checkServiceMonitors, "does not have", func(t *testing.T, m *manifest) {
			each[*serviceMonitor](m)[0].Spec.Endpoints[0].Port = "http"
		}},
		{"alert on a metric nobody defines", checkAlerts, "hz_webhooks_lost_total", func(t *testing.T, m *manifest) {
			each[*prometheusRule](m)[0].Spec.Groups[0].Rules[0].Expr = "rate(hz_webhooks_lost_total[5m]) > 0"
		}},
		{"dashboard ConfigMap out of date", checkDashboardConfigMap, "does not hold deploy/grafana/hzhook.json", func(t *testing.T, m *manifest) {
			m.configMap(dashboardConfigMap).Data["hzhook.json"] = "{}"
		}},
		{"alert on a label the metric lacks", checkAlerts, "has no label listner", func(t *testing.T, m *manifest) {
			each[*prometheusRule](m)[0].Spec.Groups[0].Rules[0].Expr = `sum(rate(hz_http_requests_total{listner="webhook"}[5m])) > 0`
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := parse(t, prod.name, rendered)
			tc.mutate(t, m)
			errs := runCheck(t, tc.check, prod, m)
			require.NotEmpty(t, errs, "the check did not notice")
			assert.Contains(t, strings.Join(errs, "\n"), tc.want)
		})
	}
}

// TestPubSubCanBeEnabled: the three settings the prod overlay leaves commented out turn the Pub/Sub
// source on with a configuration the receiver accepts and credentials from the mounted Secret.
func TestPubSubCanBeEnabled(t *testing.T) {
	prod := overlays()[1]
	m := parse(t, prod.name, renderYAML(t, prod.name))
	cm := receiverConfig(t, m)
	cm.Data["HZ_SOURCE"] = "webhook,pubsub"
	cm.Data["HZ_PUBSUB_PROJECT"] = "hardenize-project-id"
	cm.Data["HZ_PUBSUB_SUBSCRIPTION"] = "subscription-name"
	for _, c := range checks() {
		assert.Empty(t, runCheck(t, c.fn, prod, m), c.name)
	}
}

// runAll runs every check and returns all complaints.
func runAll(t *testing.T, o overlay, m *manifest) []string {
	var errs []string
	for _, c := range checks() {
		errs = append(errs, runCheck(t, c.fn, o, m)...)
	}
	return errs
}
