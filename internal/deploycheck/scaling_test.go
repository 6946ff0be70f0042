package deploycheck

import (
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/receiver"
	"github.com/hzhook/hzhook/internal/worker"
)

// checkAutoscalers: every Deployment is scaled by exactly one HorizontalPodAutoscaler or KEDA
// ScaledObject (two would fight), workers by the overlay's kind, and every scaler targets a
// Deployment of the manifest.
func checkAutoscalers(t tb, o overlay, m *manifest) {
	scalers := map[string][]string{} // Deployment name → kinds scaling it
	for _, hpa := range each[*autoscalingv2.HorizontalPodAutoscaler](m) {
		ref := hpa.Spec.ScaleTargetRef
		assert.Equal(t, "Deployment", ref.Kind, "HorizontalPodAutoscaler %s", hpa.Name)
		scalers[ref.Name] = append(scalers[ref.Name], "HorizontalPodAutoscaler")
		assert.GreaterOrEqual(t, hpa.Spec.MaxReplicas, *hpa.Spec.MinReplicas, "HorizontalPodAutoscaler %s", hpa.Name)
	}
	for _, so := range each[*scaledObject](m) {
		ref := so.Spec.ScaleTargetRef
		assert.Contains(t, []string{"", "Deployment"}, ref.Kind, "ScaledObject %s", so.Metadata.Name)
		scalers[ref.Name] = append(scalers[ref.Name], "ScaledObject")
	}
	deployments := map[string]bool{}
	for _, d := range each[*appsv1.Deployment](m) {
		deployments[d.Name] = true
		assert.Len(t, scalers[d.Name], 1, "Deployment %s must have exactly one autoscaler, has %v", d.Name, scalers[d.Name])
		if d.Spec.Template.Labels["app.kubernetes.io/component"] == "worker" && len(scalers[d.Name]) == 1 {
			assert.Equal(t, o.workerScaler, scalers[d.Name][0], "Deployment %s scaler", d.Name)
		}
	}
	for name := range scalers {
		assert.True(t, deployments[name], "an autoscaler targets Deployment %s, which is not in the manifest", name)
	}
	for _, hpa := range each[*autoscalingv2.HorizontalPodAutoscaler](m) {
		if hpa.Spec.ScaleTargetRef.Name == "receiver" {
			assert.GreaterOrEqual(t, *hpa.Spec.MinReplicas, o.receiverReplicas, "receiver autoscaler minReplicas")
		}
	}
}

// checkWorkers: one worker Deployment per event type, each with its own durable consumer; under KEDA
// each scales on the lag of exactly that consumer of HZ_EVENTS, read from a NATS node of the manifest.
func checkWorkers(t tb, o overlay, m *manifest) {
	var covered []string
	for _, h := range m.hzContainers(t) {
		cfg, err := parseConfig(h)
		require.NoError(t, err, "%s", h)
		wc, ok := cfg.(*worker.Config)
		if !ok {
			continue
		}
		assert.Len(t, wc.Types, 1, "%s: one event type per worker group, so each scales on its own lag", h)
		covered = append(covered, wc.Types...)
		if o.workerScaler != "ScaledObject" {
			continue
		}
		consumer := worker.ConsumerName(wc.Types)
		var triggers int
		for _, so := range each[*scaledObject](m) {
			if so.Spec.ScaleTargetRef.Name != h.w.Name {
				continue
			}
			for _, tr := range so.Spec.Triggers {
				triggers++
				assert.Equal(t, "nats-jetstream", tr.Type, "ScaledObject %s", so.Metadata.Name)
				assert.Equal(t, queue.StreamEvents, tr.Metadata["stream"], "ScaledObject %s stream", so.Metadata.Name)
				assert.Equal(t, consumer, tr.Metadata["consumer"], "ScaledObject %s must watch the consumer %s creates", so.Metadata.Name, h.w.Name)
				_, err := strconv.Atoi(tr.Metadata["lagThreshold"])
				assert.NoError(t, err, "ScaledObject %s lagThreshold", so.Metadata.Name)
				host, p, err := net.SplitHostPort(tr.Metadata["natsServerMonitoringEndpoint"])
				require.NoError(t, err, "ScaledObject %s natsServerMonitoringEndpoint", so.Metadata.Name)
				if o.externalNATS != "" {
					continue // the monitoring endpoint of a cluster outside the manifest
				}
				svc := m.service(strings.Split(host, ".")[0])
				require.NotNil(t, svc, "ScaledObject %s: monitoring endpoint %s is not a Service of the manifest", so.Metadata.Name, host)
				assert.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP, "ScaledObject %s: KEDA finds a consumer's leader by node name, so use the headless Service", so.Metadata.Name)
				n, _ := strconv.Atoi(p)
				sp, ok := servicePort(svc, n)
				if assert.True(t, ok, "ScaledObject %s: Service %s has no port %s", so.Metadata.Name, svc.Name, p) {
					for _, w := range servicePods(t, m, svc) {
						_, ok := containerPort(&w.Template.Spec, sp.TargetPort)
						assert.True(t, ok, "ScaledObject %s: %s does not declare port %s", so.Metadata.Name, w, sp.TargetPort.String())
					}
				}
			}
		}
		assert.Equal(t, 1, triggers, "worker %s needs exactly one nats-jetstream trigger on consumer %s", h.w.Name, consumer)
	}
	sort.Strings(covered)
	want := []string{events.TypeCTEntry, events.TypeCertNew}
	sort.Strings(want)
	assert.Equal(t, want, covered, "worker groups must cover each event type exactly once")
}

// checkNATS: HZ_NATS_URL names a Service port that reaches NATS, and the receiver creates its streams
// with as many replicas as the NATS cluster has nodes.
func checkNATS(t tb, o overlay, m *manifest) {
	if o.externalNATS != "" {
		checkExternalNATS(t, o, m)
		return
	}
	var nats *appsv1.StatefulSet
	for _, ss := range each[*appsv1.StatefulSet](m) {
		if ss.Name == "nats" {
			nats = ss
		}
	}
	require.NotNil(t, nats, "no StatefulSet nats")
	assert.Equal(t, o.natsReplicas, replicas(nats.Spec.Replicas), "NATS nodes")
	assert.NotEmpty(t, nats.Spec.VolumeClaimTemplates, "NATS JetStream needs persistent volumes")
	headless := m.service(nats.Spec.ServiceName)
	if assert.NotNil(t, headless, "StatefulSet nats: serviceName %s is not a Service", nats.Spec.ServiceName) {
		assert.Equal(t, corev1.ClusterIPNone, headless.Spec.ClusterIP, "Service %s must be headless", headless.Name)
		assert.True(t, headless.Spec.PublishNotReadyAddresses, "Service %s: publish not-ready nodes so routes form at start", headless.Name)
	}

	for _, h := range m.hzContainers(t) {
		cfg, err := parseConfig(h)
		require.NoError(t, err, "%s", h)
		raw := ""
		switch c := cfg.(type) {
		case *receiver.Config:
			raw = c.NATSURL
			assert.Equal(t, int(o.natsReplicas), c.StreamReplicas, "%s: HZ_STREAM_REPLICAS must equal the NATS nodes", h)
		case *worker.Config:
			raw = c.NATSURL
		}
		u, err := url.Parse(raw)
		require.NoError(t, err, "%s: HZ_NATS_URL", h)
		svc := m.service(strings.Split(u.Hostname(), ".")[0])
		require.NotNil(t, svc, "%s: HZ_NATS_URL host %s is not a Service of the manifest", h, u.Hostname())
		n, err := strconv.Atoi(u.Port())
		require.NoError(t, err, "%s: HZ_NATS_URL needs a port", h)
		sp, ok := servicePort(svc, n)
		require.True(t, ok, "%s: Service %s has no port %d", h, svc.Name, n)
		for _, w := range servicePods(t, m, svc) {
			cp, ok := containerPort(&w.Template.Spec, sp.TargetPort)
			assert.True(t, ok && cp.ContainerPort == 4222, "%s: HZ_NATS_URL reaches %s port %s, not the NATS client port", h, w, sp.TargetPort.String())
		}
	}
}

// checkExternalNATS: with a NATS cluster outside the manifest, no NATS of its own is rendered, every
// hzhook container connects to that cluster, and the streams get as many replicas as it has nodes.
func checkExternalNATS(t tb, o overlay, m *manifest) {
	for _, w := range m.workloads() {
		assert.NotEqual(t, "nats", w.Name, "NATS is external, yet %s is rendered", w)
	}
	for _, h := range m.hzContainers(t) {
		cfg, err := parseConfig(h)
		require.NoError(t, err, "%s", h)
		switch c := cfg.(type) {
		case *receiver.Config:
			assert.Equal(t, o.externalNATS, c.NATSURL, "%s: HZ_NATS_URL", h)
			assert.Equal(t, int(o.natsReplicas), c.StreamReplicas, "%s: HZ_STREAM_REPLICAS must equal the NATS nodes", h)
		case *worker.Config:
			assert.Equal(t, o.externalNATS, c.NATSURL, "%s: HZ_NATS_URL", h)
		}
	}
}

// checkIngress: one Ingress, TLS for every host, exactly the receiver's webhook path, routed to the
// receiver's webhook listener.
func checkIngress(t tb, _ overlay, m *manifest) {
	ingresses := each[*networkingv1.Ingress](m)
	require.Len(t, ingresses, 1, "one Ingress, for the webhook")
	ing := ingresses[0]
	var paths []string
	var listenPort int
	for _, h := range m.hzContainers(t) {
		cfg, err := parseConfig(h)
		require.NoError(t, err, "%s", h)
		if rc, ok := cfg.(*receiver.Config); ok {
			paths = append(paths, rc.WebhookPath)
			listenPort, _ = port(t, rc.Listen)
		}
	}
	require.NotEmpty(t, paths, "no receiver")
	var tlsHosts []string
	for _, tls := range ing.Spec.TLS {
		assert.NotEmpty(t, tls.SecretName, "Ingress %s: TLS needs a secretName", ing.Name)
		tlsHosts = append(tlsHosts, tls.Hosts...)
	}
	require.NotEmpty(t, ing.Spec.Rules, "Ingress %s has no rules", ing.Name)
	assert.Nil(t, ing.Spec.DefaultBackend, "Ingress %s: a default backend would publish more than the webhook", ing.Name)
	for _, rule := range ing.Spec.Rules {
		assert.True(t, slices.Contains(tlsHosts, rule.Host), "Ingress %s: host %q is not covered by TLS", ing.Name, rule.Host)
		require.NotNil(t, rule.HTTP, "Ingress %s rule %s", ing.Name, rule.Host)
		for _, p := range rule.HTTP.Paths {
			assert.Contains(t, paths, p.Path, "Ingress %s publishes %s, not the receiver's HZ_WEBHOOK_PATH", ing.Name, p.Path)
			assert.True(t, p.PathType != nil && *p.PathType == networkingv1.PathTypeExact, "Ingress %s path %s: use pathType Exact", ing.Name, p.Path)
			b := p.Backend.Service
			require.NotNil(t, b, "Ingress %s path %s has no service backend", ing.Name, p.Path)
			svc := m.service(b.Name)
			require.NotNil(t, svc, "Ingress %s: Service %s is not in the manifest", ing.Name, b.Name)
			var target *intstr.IntOrString
			for _, sp := range svc.Spec.Ports {
				if b.Port.Name != "" && sp.Name == b.Port.Name || b.Port.Name == "" && sp.Port == b.Port.Number {
					target = &sp.TargetPort
				}
			}
			require.NotNil(t, target, "Ingress %s: Service %s has no port %s%d", ing.Name, b.Name, b.Port.Name, b.Port.Number)
			for _, w := range servicePods(t, m, svc) {
				cp, ok := containerPort(&w.Template.Spec, *target)
				assert.True(t, ok && int(cp.ContainerPort) == listenPort, "Ingress %s reaches %s port %s, not the webhook listener :%d", ing.Name, w, target.String(), listenPort)
			}
		}
	}
}
