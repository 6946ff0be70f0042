package deploycheck

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hzhook/hzhook/internal/receiver"
)

// natsStatefulSet returns the manifest's NATS StatefulSet, or nil.
func natsStatefulSet(m *manifest) *appsv1.StatefulSet {
	for _, ss := range each[*appsv1.StatefulSet](m) {
		if ss.Name == "nats" {
			return ss
		}
	}
	return nil
}

// natsConfig returns the nats.conf the NATS container is started with, from its ConfigMap volume.
func natsConfig(t tb, m *manifest, ss *appsv1.StatefulSet) (c corev1.Container, conf string) {
	t.Helper()
	for _, cc := range ss.Spec.Template.Spec.Containers {
		if cc.Name == "nats" {
			c = cc
		}
	}
	require.Equal(t, "nats", c.Name, "StatefulSet nats has no container nats")
	i := slices.Index(c.Command, "--config")
	require.True(t, i >= 0 && i+1 < len(c.Command), "StatefulSet nats: start nats-server with --config FILE, not %q", c.Command)
	file := c.Command[i+1]
	var volume string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == path.Dir(file) {
			volume = vm.Name
		}
	}
	require.NotEmpty(t, volume, "StatefulSet nats: nothing is mounted at %s, the directory of %s", path.Dir(file), file)
	var cmName string
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.Name == volume && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	require.NotEmpty(t, cmName, "StatefulSet nats: %s is not mounted from a ConfigMap", path.Dir(file))
	cm := m.configMap(cmName)
	require.NotNil(t, cm, "StatefulSet nats: ConfigMap %s is not in the manifest", cmName)
	conf, ok := cm.Data[path.Base(file)]
	require.True(t, ok, "ConfigMap %s has no key %s", cmName, path.Base(file))
	return c, conf
}

// parseNATSConfig parses nats.conf with nats-server's own parser, as the pod named server would.
func parseNATSConfig(conf, server0 string) (*server.Options, error) {
	opts := &server.Options{}
	// $SERVER_NAME comes from the pod's environment (its name); give it the first pod's.
	err := opts.ProcessConfigString(strings.ReplaceAll(conf, "$SERVER_NAME", strconv.Quote(server0)))
	return opts, err
}

// checkNATSConfig: nats-server accepts the nats.conf of the manifest; JetStream syncs every write
// before acknowledging it (sync_interval: always: a 204 survives every node losing power at once),
// stores on the persistent volume, takes the receiver's largest body; server names are the pod names
// (KEDA finds a consumer's leader by them); the routes name every node of the StatefulSet; ports,
// pid file (lame duck preStop) and lame duck time fit the pod.
func checkNATSConfig(t tb, o overlay, m *manifest) {
	ss := natsStatefulSet(m)
	if o.externalNATS != "" {
		assert.Nil(t, ss, "NATS is external, yet a StatefulSet nats is rendered")
		return
	}
	require.NotNil(t, ss, "no StatefulSet nats")
	c, conf := natsConfig(t, m, ss)
	opts, err := parseNATSConfig(conf, ss.Name+"-0")
	require.NoError(t, err, "nats-server does not accept nats.conf:\n%s", conf)

	assert.True(t, opts.JetStream, "nats.conf: no jetstream block")
	assert.True(t, opts.SyncAlways, "nats.conf: set sync_interval: always in the jetstream block, so JetStream syncs each write before acknowledging it")
	assert.Equal(t, ss.Name+"-0", opts.ServerName, "nats.conf: server_name must be $SERVER_NAME, the pod name")
	nameFromPod := false
	for _, e := range c.Env {
		nameFromPod = nameFromPod || e.Name == "SERVER_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
	}
	assert.True(t, nameFromPod, "StatefulSet nats: SERVER_NAME must come from metadata.name")

	mounted := func(dir string) string {
		for _, vm := range c.VolumeMounts {
			if dir == vm.MountPath || strings.HasPrefix(dir, vm.MountPath+"/") {
				return vm.Name
			}
		}
		return ""
	}
	store := mounted(opts.StoreDir)
	assert.True(t, store != "" && slices.ContainsFunc(ss.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == store }),
		"nats.conf: JetStream store_dir %s is not on a persistent volume claim", opts.StoreDir)
	assert.NotEmpty(t, mounted(path.Dir(opts.PidFile)), "nats.conf: pid_file %s is not on a mounted volume (the root file system is read-only)", opts.PidFile)
	if lc := c.Lifecycle; assert.True(t, lc != nil && lc.PreStop != nil && lc.PreStop.Exec != nil, "StatefulSet nats: preStop must enter lame duck mode") {
		assert.Contains(t, lc.PreStop.Exec.Command, "ldm="+opts.PidFile, "StatefulSet nats: preStop signals another pid file than nats.conf's")
	}
	grace := 30 * time.Second
	if g := ss.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	assert.Greater(t, grace, opts.LameDuckDuration+opts.LameDuckGracePeriod, "StatefulSet nats: terminationGracePeriodSeconds must cover lame_duck_duration + lame_duck_grace_period")

	ports := map[string]int{"client": opts.Port, "monitor": opts.HTTPPort}
	replicas := replicas(ss.Spec.Replicas)
	if replicas > 1 {
		ports["cluster"] = opts.Cluster.Port
		var routes, want []string
		for _, r := range opts.Routes {
			routes = append(routes, r.Host)
		}
		for i := range replicas {
			want = append(want, fmt.Sprintf("%s-%d.%s:%d", ss.Name, i, ss.Spec.ServiceName, opts.Cluster.Port))
		}
		assert.ElementsMatch(t, want, routes, "nats.conf: the cluster routes must name every node of the StatefulSet")
	} else {
		assert.Empty(t, opts.Routes, "nats.conf: routes on a single node")
	}
	for name, p := range ports {
		cp, ok := containerPortOf(c, intstr.FromString(name))
		assert.True(t, ok && int(cp.ContainerPort) == p, "StatefulSet nats: port %s must be nats.conf's %d", name, p)
	}

	for _, h := range m.hzContainers(t) {
		cfg, err := parseConfig(h)
		require.NoError(t, err, "%s", h)
		if rc, ok := cfg.(*receiver.Config); ok {
			assert.Greater(t, int64(opts.MaxPayload), rc.MaxBodyBytes, "nats.conf: max_payload must exceed the receiver's HZ_MAX_BODY_BYTES (plus headers)")
		}
	}
}
