package deploycheck

import (
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// selector converts a label selector, failing the test on an invalid one.
func selector(t tb, sel *metav1.LabelSelector, what string) labels.Selector {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	require.NoError(t, err, "%s: invalid selector", what)
	return s
}

// servicePods returns the workloads a Service selects, requiring at least one.
func servicePods(t tb, m *manifest, svc *corev1.Service) []workload {
	t.Helper()
	require.NotEmpty(t, svc.Spec.Selector, "Service %s has no selector", svc.Name)
	pods := m.selecting(labels.SelectorFromSet(svc.Spec.Selector))
	require.NotEmpty(t, pods, "Service %s selects no pods of the manifest", svc.Name)
	return pods
}

// checkServices: every Service selects pods, and every port targets a port those pods declare.
func checkServices(t tb, _ overlay, m *manifest) {
	for _, svc := range each[*corev1.Service](m) {
		for _, w := range servicePods(t, m, svc) {
			for _, p := range svc.Spec.Ports {
				target := p.TargetPort
				if target.Type == intstr.Int && target.IntVal == 0 {
					target = intstr.FromInt32(p.Port)
				}
				_, ok := containerPort(&w.Template.Spec, target)
				assert.True(t, ok, "Service %s port %s targets %s, which %s does not declare", svc.Name, p.Name, target.String(), w)
			}
		}
	}
}

// checkPDBs: every budget selects pods and lets a drain evict at least one of them.
func checkPDBs(t tb, _ overlay, m *manifest) {
	pdbs := each[*policyv1.PodDisruptionBudget](m)
	for _, w := range m.workloads() {
		covered := false
		for _, pdb := range pdbs {
			covered = covered || selector(t, pdb.Spec.Selector, "PodDisruptionBudget "+pdb.Name).Matches(labels.Set(w.Template.Labels))
		}
		// The dev-only PostgreSQL runs one replica without a budget; everything else has one.
		assert.True(t, covered || w.Name == "postgres", "%s has no PodDisruptionBudget", w)
	}
	for _, pdb := range pdbs {
		pods := m.selecting(selector(t, pdb.Spec.Selector, "PodDisruptionBudget "+pdb.Name))
		assert.NotEmpty(t, pods, "PodDisruptionBudget %s selects no pods of the manifest", pdb.Name)
		for _, w := range pods {
			switch {
			case pdb.Spec.MaxUnavailable != nil:
				assert.True(t, pdb.Spec.MaxUnavailable.Type == intstr.String || pdb.Spec.MaxUnavailable.IntVal >= 1,
					"PodDisruptionBudget %s: maxUnavailable 0 blocks every drain", pdb.Name)
			case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
				assert.Less(t, pdb.Spec.MinAvailable.IntVal, w.Replicas,
					"PodDisruptionBudget %s: minAvailable must stay below the %d replicas of %s or drains block", pdb.Name, w.Replicas, w)
			}
		}
	}
}

// checkNetworkPolicies: ingress is denied by default; every policy selects pods, names only ports
// its pods declare, and admits only named peers (no rule open to everyone or to every port).
func checkNetworkPolicies(t tb, _ overlay, m *manifest) {
	defaultDeny := false
	for _, np := range each[*networkingv1.NetworkPolicy](m) {
		sel := selector(t, &np.Spec.PodSelector, "NetworkPolicy "+np.Name)
		if sel.Empty() {
			defaultDeny = defaultDeny || len(np.Spec.Ingress) == 0
			continue
		}
		pods := m.selecting(sel)
		assert.NotEmpty(t, pods, "NetworkPolicy %s selects no pods of the manifest", np.Name)
		assert.Contains(t, np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress, "NetworkPolicy %s", np.Name)
		for i, rule := range np.Spec.Ingress {
			assert.NotEmpty(t, rule.From, "NetworkPolicy %s rule %d admits every source", np.Name, i)
			assert.NotEmpty(t, rule.Ports, "NetworkPolicy %s rule %d opens every port", np.Name, i)
			for _, peer := range rule.From {
				assert.Nil(t, peer.IPBlock, "NetworkPolicy %s rule %d: admit pods or namespaces, not address ranges", np.Name, i)
				if peer.PodSelector != nil && peer.NamespaceSelector == nil {
					assert.NotEmpty(t, m.selecting(selector(t, peer.PodSelector, "NetworkPolicy "+np.Name)),
						"NetworkPolicy %s rule %d admits pods that do not exist in the manifest", np.Name, i)
				}
			}
			for _, p := range rule.Ports {
				if p.Port == nil {
					continue
				}
				for _, w := range pods {
					_, ok := containerPort(&w.Template.Spec, *p.Port)
					assert.True(t, ok, "NetworkPolicy %s names port %s, which %s does not declare", np.Name, p.Port.String(), w)
				}
			}
		}
	}
	assert.True(t, defaultDeny, "no default-deny ingress NetworkPolicy (empty podSelector, no rules)")
}

// checkSpread: topology spread constraints and pod anti-affinity count the workload's own pods.
func checkSpread(t tb, _ overlay, m *manifest) {
	for _, w := range m.workloads() {
		own := labels.Set(w.Template.Labels)
		for _, c := range w.Template.Spec.TopologySpreadConstraints {
			assert.True(t, selector(t, c.LabelSelector, w.String()).Matches(own), "%s: spread constraint on %s does not select its own pods", w, c.TopologyKey)
		}
		if a := w.Template.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
			for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
				assert.True(t, selector(t, term.LabelSelector, w.String()).Matches(own), "%s: anti-affinity on %s does not select its own pods", w, term.TopologyKey)
			}
		}
		sel := selector(t, w.Selector, w.String())
		assert.False(t, sel.Empty(), "%s selects every pod", w)
		assert.True(t, sel.Matches(own), "%s: selector does not match its pod template", w)
	}
}

// checkServiceMonitors: each monitor selects Services and scrapes ports they have.
func checkServiceMonitors(t tb, o overlay, m *manifest) {
	if o.noMonitoring {
		assert.Empty(t, each[*serviceMonitor](m), "monitoring is off, yet there is a ServiceMonitor")
		return
	}
	require.NotEmpty(t, each[*serviceMonitor](m), "no ServiceMonitor")
	for _, sm := range each[*serviceMonitor](m) {
		sel := selector(t, &sm.Spec.Selector, "ServiceMonitor "+sm.Metadata.Name)
		var matched int
		for _, svc := range each[*corev1.Service](m) {
			if !sel.Matches(labels.Set(svc.Labels)) {
				continue
			}
			matched++
			for _, ep := range sm.Spec.Endpoints {
				found := false
				for _, p := range svc.Spec.Ports {
					found = found || p.Name == ep.Port
				}
				assert.True(t, found, "ServiceMonitor %s scrapes port %s, which Service %s does not have", sm.Metadata.Name, ep.Port, svc.Name)
				assert.Equal(t, "/metrics", ep.Path, "ServiceMonitor %s path", sm.Metadata.Name)
			}
		}
		assert.NotZero(t, matched, "ServiceMonitor %s selects no Service", sm.Metadata.Name)
	}
}
