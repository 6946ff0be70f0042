package deploycheck

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/receiver"
	"github.com/hzhook/hzhook/internal/tracing"
	"github.com/hzhook/hzhook/internal/worker"
)

// binDir is where the Dockerfile puts the binaries and where the manifests call them.
const binDir = "/usr/local/bin/"

// hzContainer is a container running one of the hzhook binaries, with its environment resolved from
// the rendered ConfigMaps and Secrets.
type hzContainer struct {
	w      workload
	c      corev1.Container
	binary string            // "receiver" or "worker"
	env    map[string]string // every variable the container gets, by name
}

func (h hzContainer) String() string {
	return fmt.Sprintf("%s container %s (%s)", h.w, h.c.Name, h.binary)
}

// binaries binds each long-running binary's settings on a fresh config.Set: the same definitions
// cmd/receiver and cmd/worker parse, so the manifests are checked against the code, not a copy.
func binaries() map[string]func(*config.Set) any {
	return map[string]func(*config.Set) any{
		"receiver": func(s *config.Set) any { c := &receiver.Config{}; receiver.Bind(s, c); return c },
		"worker":   func(s *config.Set) any { c := &worker.Config{}; worker.Bind(s, c); return c },
	}
}

// envNames lists the environment variables a binary reads: its config definitions', and the
// standard OpenTelemetry variables both binaries read through tracing.FromEnv and the SDK it calls
// (this is the one place that says so).
func envNames(binary string) map[string]bool {
	set := config.NewSet(binary, func(string) (string, bool) { return "", false })
	binaries()[binary](set)
	names := map[string]bool{}
	for _, n := range set.EnvNames() {
		names[n] = true
	}
	for _, n := range tracing.EnvNames {
		names[n] = true
	}
	return names
}

// parseConfig parses a container's arguments and environment exactly as its binary's main does and
// returns the validated *receiver.Config or *worker.Config.
func parseConfig(h hzContainer) (any, error) {
	set := config.NewSet(h.binary, func(k string) (string, bool) { v, ok := h.env[k]; return v, ok })
	cfg := binaries()[h.binary](set)
	if err := set.Parse(h.c.Args); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(set.Args()) > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", set.Args())
	}
	var err error
	switch c := cfg.(type) {
	case *receiver.Config:
		err = c.Validate()
	case *worker.Config:
		err = c.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return cfg, nil
}

// effective returns a container's settings by flag name as its binary sees them (secrets masked).
// Checks read settings of code still in flux this way rather than through Config fields.
func effective(h hzContainer) map[string]string {
	set := config.NewSet(h.binary, func(k string) (string, bool) { v, ok := h.env[k]; return v, ok })
	binaries()[h.binary](set)
	if err := set.Parse(h.c.Args); err != nil {
		return nil
	}
	return set.Effective()
}

// hzContainers finds every container that runs an hzhook binary from the image's binDir.
func (m *manifest) hzContainers(t tb) []hzContainer {
	t.Helper()
	var out []hzContainer
	for _, w := range m.workloads() {
		for _, c := range w.Template.Spec.Containers {
			if len(c.Command) == 0 || !strings.HasPrefix(c.Command[0], binDir) {
				continue
			}
			bin := path.Base(c.Command[0])
			_, known := binaries()[bin]
			require.True(t, known, "%s container %s runs %s: only receiver and worker are services", w, c.Name, c.Command[0])
			require.Len(t, c.Command, 1, "%s container %s: give settings as HZ_* variables or args, not in command", w, c.Name)
			out = append(out, hzContainer{w: w, c: c, binary: bin, env: m.resolveEnv(t, w, c)})
		}
	}
	require.NotEmpty(t, out, "no container runs %s{receiver,worker}", binDir)
	return out
}

// resolveEnv returns a container's variables: envFrom ConfigMaps and Secrets, then env (which wins).
func (m *manifest) resolveEnv(t tb, w workload, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm := m.configMap(from.ConfigMapRef.Name)
			require.NotNil(t, cm, "%s container %s: envFrom ConfigMap %s is not in the manifest", w, c.Name, from.ConfigMapRef.Name)
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			s := m.secret(from.SecretRef.Name)
			require.NotNil(t, s, "%s container %s: envFrom Secret %s is not in the manifest", w, c.Name, from.SecretRef.Name)
			for k, v := range s.Data {
				env[from.Prefix+k] = string(v)
			}
			for k, v := range s.StringData {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s := m.secret(ref.Name)
			require.NotNil(t, s, "%s container %s: %s refers to Secret %s, not in the manifest", w, c.Name, e.Name, ref.Name)
			v, ok := secretData(s, ref.Key)
			require.True(t, ok, "%s container %s: %s refers to key %s missing from Secret %s", w, c.Name, e.Name, ref.Key, ref.Name)
			env[e.Name] = v
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm := m.configMap(ref.Name)
			require.NotNil(t, cm, "%s container %s: %s refers to ConfigMap %s, not in the manifest", w, c.Name, e.Name, ref.Name)
			v, ok := cm.Data[ref.Key]
			require.True(t, ok, "%s container %s: %s refers to key %s missing from ConfigMap %s", w, c.Name, e.Name, ref.Key, ref.Name)
			env[e.Name] = v
		default: // fieldRef, resourceFieldRef: known only in the cluster
			env[e.Name] = "from-the-cluster"
		}
	}
	return env
}

// port returns the port number of a listen address and whether it listens beyond loopback, which the
// kubelet's probes and other pods need.
func port(t tb, addr string) (int, bool) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	require.NoError(t, err, "listen address %q", addr)
	n, err := strconv.Atoi(p)
	require.NoError(t, err, "listen address %q", addr)
	ip := net.ParseIP(host)
	return n, host == "" || ip != nil && ip.IsUnspecified()
}
