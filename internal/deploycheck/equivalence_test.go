package deploycheck

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// kustomizeHashed is a name kustomize's generators gave a content hash suffix.
var kustomizeHashed = regexp.MustCompile(`^(.+)-[a-z0-9]{10}$`)

// chartOnlyLabels are the labels Helm charts carry by convention (who manages the object, which
// release and chart version) and kustomize has no counterpart for. They never enter a selector.
func chartOnlyLabels() []string {
	return []string{"app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version", "helm.sh/chart"}
}

// comparable turns a rendered manifest into (kind/name → object as generic JSON), with the
// differences that are deliberate between kustomize and Helm taken out, each for the reason given:
//
//   - kustomize's generated ConfigMaps and Secrets carry a content hash in their name so a change
//     rolls the pods; the chart keeps fixed names and rolls the pods by checksum/* annotations on
//     the pod templates. Names (and every reference to them) lose the hash, the checksums go.
//   - Helm's own labels (chartOnlyLabels) and the Namespace's helm.sh/resource-policy: keep.
//   - metadata.namespace: kustomize writes it into every object, Helm installs into the release
//     namespace (rendered here as hzhook).
//   - Secrets: kustomize writes data, the chart stringData; the hooks file and the Pub/Sub key are
//     compared as the YAML/JSON they hold (the chart's placeholder comments differ).
//   - nats.conf is compared as the options nats-server reads from it, not as text.
func comparable(t *testing.T, m *manifest) map[string]any {
	t.Helper()
	renamed := map[string]string{}
	for _, o := range m.objects {
		if o.Kind == "ConfigMap" || o.Kind == "Secret" {
			if g := kustomizeHashed.FindStringSubmatch(o.Name); g != nil {
				renamed[o.Name] = g[1]
			}
		}
	}
	out := map[string]any{}
	for _, o := range m.objects {
		raw, err := json.Marshal(o.Obj)
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, json.Unmarshal(raw, &v))
		v = rename(v, renamed).(map[string]any)
		name := o.Name
		if n, ok := renamed[name]; ok {
			name = n
		}
		meta, _ := v["metadata"].(map[string]any)
		delete(meta, "namespace")
		delete(meta, "creationTimestamp")
		dropKeys(meta, "labels", chartOnlyLabels()...)
		dropKeys(meta, "annotations", "helm.sh/resource-policy")
		if spec, ok := v["spec"].(map[string]any); ok {
			if tmpl, ok := spec["template"].(map[string]any); ok {
				tmeta, _ := tmpl["metadata"].(map[string]any)
				dropKeys(tmeta, "labels", chartOnlyLabels()...)
				if ann, ok := tmeta["annotations"].(map[string]any); ok {
					for k := range ann {
						if strings.HasPrefix(k, "checksum/") {
							delete(ann, k)
						}
					}
					if len(ann) == 0 {
						delete(tmeta, "annotations")
					}
				}
			}
		}
		switch o.Kind {
		case "Secret":
			v = comparableSecret(t, o, v)
		case "ConfigMap":
			v = comparableConfigMap(t, v)
		}
		out[o.Kind+"/"+name] = v
	}
	return out
}

// rename replaces every string that is a hashed name by the name without its hash.
func rename(v any, renamed map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = rename(e, renamed)
		}
	case []any:
		for i, e := range x {
			x[i] = rename(e, renamed)
		}
	case string:
		if n, ok := renamed[x]; ok {
			return n
		}
	}
	return v
}

// dropKeys deletes keys from the map meta[field], and the map itself once empty.
func dropKeys(meta map[string]any, field string, keys ...string) {
	mp, ok := meta[field].(map[string]any)
	if !ok {
		return
	}
	for _, k := range keys {
		delete(mp, k)
	}
	if len(mp) == 0 {
		delete(meta, field)
	}
}

// comparableSecret puts a Secret's data and stringData together as text, files as parsed YAML/JSON.
func comparableSecret(t *testing.T, o object, v map[string]any) map[string]any {
	data := map[string]any{}
	for k, val := range secretValues(o) {
		if ext := path.Ext(k); ext == ".yaml" || ext == ".json" {
			var parsed any
			require.NoError(t, yaml.Unmarshal([]byte(val), &parsed), "%s %s key %s", o.Kind, o.Name, k)
			data[k] = parsed
			continue
		}
		data[k] = val
	}
	delete(v, "stringData")
	v["data"] = data
	return v
}

// comparableConfigMap compares nats.conf by what nats-server reads from it, everything else as text
// up to surrounding blank space.
func comparableConfigMap(t *testing.T, v map[string]any) map[string]any {
	data, _ := v["data"].(map[string]any)
	for k, val := range data {
		s, _ := val.(string)
		if k == "nats.conf" {
			opts, err := parseNATSConfig(s, "nats-0")
			require.NoError(t, err, "nats.conf")
			data[k] = map[string]any{
				"server_name": opts.ServerName, "listen": fmt.Sprintf("%s:%d", opts.Host, opts.Port),
				"http": fmt.Sprintf("%s:%d", opts.HTTPHost, opts.HTTPPort), "pid_file": opts.PidFile,
				"max_payload": opts.MaxPayload, "lame_duck_duration": opts.LameDuckDuration.String(),
				"lame_duck_grace_period": opts.LameDuckGracePeriod.String(),
				"jetstream": map[string]any{
					"enabled": opts.JetStream, "store_dir": opts.StoreDir, "max_memory_store": opts.JetStreamMaxMemory,
					"max_file_store": opts.JetStreamMaxStore, "sync_always": opts.SyncAlways,
				},
				"cluster": map[string]any{"name": opts.Cluster.Name, "port": opts.Cluster.Port, "routes": fmt.Sprint(opts.Routes),
					"connect_retries": opts.Cluster.ConnectRetries},
			}
			continue
		}
		data[k] = strings.TrimSpace(s)
	}
	return v
}

// secretValues returns a Secret's keys and values, from data and stringData alike.
func secretValues(o object) map[string]string {
	out := map[string]string{}
	raw, _ := json.Marshal(o.Obj)
	var s struct {
		Data       map[string][]byte `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	_ = json.Unmarshal(raw, &s)
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

// TestChartMatchesProdOverlay: helm template with values-prod.yaml gives the prod overlay's
// deployment: the same objects by kind and name, and each object the same once the deliberate
// differences listed at comparable are taken out, so images, commands, settings, probes, security
// contexts, resources, replicas, selectors, ports, policies, scalers and alerts cannot drift apart.
func TestChartMatchesProdOverlay(t *testing.T) {
	kust := comparable(t, parse(t, "prod", renderYAML(t, "prod")))
	chart := comparable(t, parse(t, "helm values-prod.yaml", renderChart(t, chartValues{files: []string{chartDir + "/values-prod.yaml"}})))

	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	require.Equal(t, keys(kust), keys(chart), "the chart with values-prod.yaml must render the objects (kind/name) the prod overlay does")
	for _, k := range keys(kust) {
		want, _ := json.MarshalIndent(kust[k], "", "  ")
		got, _ := json.MarshalIndent(chart[k], "", "  ")
		assert.Equal(t, string(want), string(got), "%s: the chart (values-prod.yaml, right) differs from the prod overlay (left)", k)
	}
}

// TestChartComparisonNotices: the comparison is not blind to a drifting value.
func TestChartComparisonNotices(t *testing.T) {
	kust := comparable(t, parse(t, "prod", renderYAML(t, "prod")))
	cases := []struct{ set, object string }{
		{"receiver.resources.limits.memory=1Gi", "Deployment/receiver"},
		{"workers.config.HZ_ACK_WAIT=1m", "ConfigMap/worker-config"},
		{"nats.maxFileStore=40GB", "ConfigMap/nats-config"},
		{"workers.autoscaling.keda.lagThreshold=100", "ScaledObject/worker-ct-entry"},
		{"image.tag=v0.2.0", "Deployment/worker-pki-cert-new"},
	}
	for _, tc := range cases {
		t.Run(tc.set, func(t *testing.T) {
			chart := comparable(t, parse(t, "helm", renderChart(t, chartValues{files: []string{chartDir + "/values-prod.yaml"}, set: []string{tc.set}})))
			assert.NotEqual(t, kust[tc.object], chart[tc.object], "--set %s does not show in %s", tc.set, tc.object)
		})
	}
}
