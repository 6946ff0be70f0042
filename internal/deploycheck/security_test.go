package deploycheck

import (
	"slices"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
)

// allContainers lists init and regular containers of a pod.
func allContainers(pod *corev1.PodSpec) []corev1.Container {
	return append(append([]corev1.Container(nil), pod.InitContainers...), pod.Containers...)
}

// checkSecurity: what the restricted Pod Security Standard demands, and a read-only root file system.
func checkSecurity(t tb, _ overlay, m *manifest) {
	for _, w := range m.workloads() {
		pod := &w.Template.Spec
		psc := pod.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		assert.False(t, pod.HostNetwork || pod.HostPID || pod.HostIPC, "%s shares a host namespace", w)
		assert.NotNil(t, pod.AutomountServiceAccountToken, "%s: set automountServiceAccountToken", w)
		if pod.AutomountServiceAccountToken != nil {
			assert.False(t, *pod.AutomountServiceAccountToken, "%s mounts a service account token it does not need", w)
		}
		for _, c := range allContainers(pod) {
			sc := c.SecurityContext
			if !assert.NotNil(t, sc, "%s container %s has no securityContext", w, c.Name) {
				continue
			}
			nonRoot := sc.RunAsNonRoot != nil && *sc.RunAsNonRoot || sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
			assert.True(t, nonRoot, "%s container %s: runAsNonRoot must be true", w, c.Name)
			uid := sc.RunAsUser
			if uid == nil {
				uid = psc.RunAsUser
			}
			if assert.NotNil(t, uid, "%s container %s: set a numeric runAsUser (images may name a user kubelet cannot verify)", w, c.Name) {
				assert.NotZero(t, *uid, "%s container %s runs as uid 0", w, c.Name)
			}
			assert.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s container %s: readOnlyRootFilesystem must be true", w, c.Name)
			assert.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s container %s: allowPrivilegeEscalation must be false", w, c.Name)
			assert.False(t, sc.Privileged != nil && *sc.Privileged, "%s container %s is privileged", w, c.Name)
			if assert.NotNil(t, sc.Capabilities, "%s container %s: drop all capabilities", w, c.Name) {
				assert.Contains(t, sc.Capabilities.Drop, corev1.Capability("ALL"), "%s container %s: drop all capabilities", w, c.Name)
				assert.Empty(t, sc.Capabilities.Add, "%s container %s adds capabilities", w, c.Name)
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if assert.NotNil(t, seccomp, "%s container %s: set seccompProfile RuntimeDefault", w, c.Name) {
				assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, seccomp.Type, "%s container %s seccomp profile", w, c.Name)
			}
		}
	}
}

// checkResources: every container requests CPU and memory and is limited in memory.
func checkResources(t tb, _ overlay, m *manifest) {
	for _, w := range m.workloads() {
		for _, c := range allContainers(&w.Template.Spec) {
			r := c.Resources
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				q, ok := r.Requests[name]
				assert.True(t, ok && !q.IsZero(), "%s container %s requests no %s", w, c.Name, name)
			}
			q, ok := r.Limits[corev1.ResourceMemory]
			assert.True(t, ok && !q.IsZero(), "%s container %s has no memory limit", w, c.Name)
			if ok {
				req := r.Requests[corev1.ResourceMemory]
				assert.GreaterOrEqual(t, q.Cmp(req), 0, "%s container %s: memory limit below its request", w, c.Name)
			}
		}
	}
}

// checkVolumes: every mount names a volume of the pod, and every Secret or ConfigMap volume (not
// optional) exists in the manifest.
func checkVolumes(t tb, _ overlay, m *manifest) {
	for _, w := range m.workloads() {
		pod := &w.Template.Spec
		names := map[string]bool{}
		for _, v := range pod.Volumes {
			names[v.Name] = true
			switch {
			case v.Secret != nil && (v.Secret.Optional == nil || !*v.Secret.Optional):
				assert.NotNil(t, m.secret(v.Secret.SecretName), "%s volume %s: Secret %s not in the manifest", w, v.Name, v.Secret.SecretName)
			case v.ConfigMap != nil && (v.ConfigMap.Optional == nil || !*v.ConfigMap.Optional):
				assert.NotNil(t, m.configMap(v.ConfigMap.Name), "%s volume %s: ConfigMap %s not in the manifest", w, v.Name, v.ConfigMap.Name)
			}
		}
		for _, c := range allContainers(pod) {
			for _, vm := range c.VolumeMounts {
				assert.True(t, names[vm.Name] || w.Claims[vm.Name], "%s container %s mounts unknown volume %s", w, c.Name, vm.Name)
			}
		}
		assert.False(t, slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.HostPath != nil }), "%s uses a hostPath volume", w)
	}
}
