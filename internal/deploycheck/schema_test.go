package deploycheck

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/tracing"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite the receiverConfig and workerConfig definitions of the chart's values.schema.json from the binaries' settings")

// chartManaged are the variables the chart sets itself from other values (or mounts), so
// receiver.config and workers.config may not: the reason is the message for whoever tries.
func chartManaged() map[string]map[string]string {
	return map[string]map[string]string{
		"receiver": {
			"HZ_LISTEN":             "set from receiver.ports.webhook",
			"HZ_ADMIN_LISTEN":       "set from receiver.ports.admin",
			"HZ_SECRETS_FILE":       "the mounted hooks Secret (hooks.list or hooks.existingSecret)",
			"HZ_PUBSUB_CREDENTIALS": "the mounted Pub/Sub Secret (pubsub.credentials or pubsub.existingSecret)",
			"HZ_NATS_URL":           "set from nats (the chart's StatefulSet, or nats.external.url)",
			"HZ_STREAM_REPLICAS":    "set from nats.replicas or nats.external.streamReplicas",
			"HZ_DATA_DIR":           "only for the embedded NATS server, which a cluster never runs",
			"HZ_EMBEDDED_NATS_PORT": "only for the embedded NATS server, which a cluster never runs",
			"HZ_DEV":                "development mode, not for a cluster",
			"HZ_DEV_API_LISTEN":     "development mode, not for a cluster",
		},
		"worker": {
			"HZ_TYPES":             "set per group from workers.groups.<name>.types",
			"HZ_NATS_URL":          "set from nats (the chart's StatefulSet, or nats.external.url)",
			"HZ_ADMIN_LISTEN":      "set from workers.ports.admin",
			"HZ_DB_URL":            "a Secret: database.url or database.existingSecret",
			"HZ_RULES_FILE":        "the mounted rules ConfigMap (rules)",
			"HZ_ALERT_WEBHOOK_URL": "a Secret: alerts.webhookURL or alerts.existingSecret",
		},
	}
}

// configDefinition is the JSON schema of the HZ_* settings a binary accepts in receiver.config or
// workers.config: every variable its config definitions read, except the chart's own and secrets
// (which never go into a ConfigMap), described by the binary's --help text. Values may be strings,
// numbers or booleans (helm --set makes 2048 a number); the chart quotes them all.
func configDefinition(binary string) map[string]any {
	set := config.NewSet(binary, func(string) (string, bool) { return "", false })
	binaries()[binary](set)
	props := map[string]any{}
	for _, s := range set.Settings() {
		if s.Env == "" || s.Secret || chartManaged()[binary][s.Env] != "" {
			continue
		}
		desc := s.Usage
		if s.Flag != "" {
			desc += fmt.Sprintf(" (--%s", s.Flag)
			if s.Default != "" {
				desc += ", default " + s.Default
			}
			desc += ")"
		}
		props[s.Env] = map[string]any{"description": desc, "type": []any{"string", "integer", "number", "boolean"}}
	}
	return map[string]any{
		"type":                 "object",
		"description":          fmt.Sprintf("%s settings as HZ_* variables (%s --help); the chart sets the others itself or from Secrets", binary, binary),
		"additionalProperties": false,
		"properties":           props,
	}
}

// otelManaged are the standard OpenTelemetry variables the chart sets from the otel values itself.
var otelManaged = map[string]string{
	tracing.EnvEndpoint:         "otel.endpoint",
	tracing.EnvProtocol:         "otel.protocol",
	tracing.EnvTracesSampler:    "otel.sampler",
	tracing.EnvTracesSamplerArg: "otel.samplerArg",
}

// otelEnvDefinition is the JSON schema of otel.env: every other standard variable the binaries
// read (tracing.EnvNames).
func otelEnvDefinition() map[string]any {
	props := map[string]any{}
	for _, n := range tracing.EnvNames {
		if otelManaged[n] == "" {
			props[n] = map[string]any{"type": []any{"string", "integer", "number", "boolean"}}
		}
	}
	return map[string]any{
		"type":                 "object",
		"description":          "more standard OpenTelemetry variables the binaries read (internal/tracing EnvNames); otel's own values set the endpoint, protocol and sampler",
		"additionalProperties": false,
		"properties":           props,
	}
}

func schemaPath(t *testing.T) string {
	return filepath.Join(repoRoot(t), chartDir, "values.schema.json")
}

// TestChartSchemaCoversSettings: values.schema.json accepts in receiver.config and workers.config
// exactly the settings the binaries read (less the chart's own and secrets), so every setting has a
// value and a misspelled one fails `helm install`. After a setting is added to a binary, run
//
//	go test ./internal/deploycheck -run TestChartSchemaCoversSettings -update-schema
func TestChartSchemaCoversSettings(t *testing.T) {
	raw, err := os.ReadFile(schemaPath(t))
	require.NoError(t, err)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(raw, &schema), "values.schema.json")
	defs, ok := schema["definitions"].(map[string]any)
	require.True(t, ok, "values.schema.json has no definitions")

	want := map[string]any{"receiverConfig": configDefinition("receiver"), "workerConfig": configDefinition("worker"), "otelEnv": otelEnvDefinition()}
	if *updateSchema {
		for k, v := range want {
			defs[k] = v
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(schema))
		require.NoError(t, os.WriteFile(schemaPath(t), buf.Bytes(), 0o644))
		t.Logf("rewrote %s", schemaPath(t))
		return
	}
	for k, v := range want {
		wantJSON, _ := json.Marshal(v)
		gotJSON, _ := json.Marshal(defs[k])
		assert.JSONEq(t, string(wantJSON), string(gotJSON),
			"values.schema.json definitions.%s is not what the binaries read; run: go test ./internal/deploycheck -run TestChartSchemaCoversSettings -update-schema", k)
	}

	// Every setting is reachable: through the config maps, or a value of the chart, or a Secret.
	for binary, managed := range chartManaged() {
		known := envNames(binary)
		var stale []string
		for env := range managed {
			if !known[env] {
				stale = append(stale, env)
			}
		}
		sort.Strings(stale)
		assert.Empty(t, stale, "chartManaged lists %s variables %s no longer reads", binary, strings.Join(stale, ", "))
	}
}

// TestChartSchemaRefusesMistakes: values the chart cannot honour fail `helm template` with a message
// naming the value, before anything reaches a cluster.
func TestChartSchemaRefusesMistakes(t *testing.T) {
	cases := []struct {
		name string
		set  []string
		want string
	}{
		{"misspelled receiver setting", []string{"receiver.config.HZ_TOLERANCE=5m"}, "HZ_TOLERANCE"},
		{"setting the chart derives", []string{"receiver.config.HZ_NATS_URL=nats://elsewhere:4222"}, "HZ_NATS_URL"},
		{"secret setting in a ConfigMap", []string{"workers.config.HZ_ADMIN_TOKEN=secret"}, "HZ_ADMIN_TOKEN"},
		{"group setting the group derives", []string{"workers.groups.ct-entry.config.HZ_TYPES=ct.entry"}, "HZ_TYPES"},
		{"unknown value", []string{"receiver.replica=3"}, "replica"},
		{"unknown autoscaling mode", []string{"workers.autoscaling.mode=cpu"}, "mode"},
		{"misspelled OpenTelemetry variable", []string{"otel.env.OTEL_EXPORTER_OTLP_ENDPONT=http://c:4318"}, "OTEL_EXPORTER_OTLP_ENDPONT"},
		{"OpenTelemetry protocol the exporter lacks", []string{"otel.endpoint=http://c:4318", "otel.protocol=http/json"}, "protocol"},
		{"OpenTelemetry endpoint without a scheme", []string{"otel.endpoint=collector:4317"}, "endpoint"},
		{"NATS cluster of two", []string{"nats.replicas=2"}, "replicas"},
		{"external NATS without a URL", []string{"nats.enabled=false"}, "nats.external.url is required"},
		{"no database", []string{"database.url="}, "database.url (or database.existingSecret) is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runHelm(t, templateArgs(chartValues{set: tc.set})...)
			require.Error(t, err, "helm template accepted %v", tc.set)
			assert.Contains(t, stderr, tc.want)
		})
	}

	t.Run("numbers and booleans from --set are settings too", func(t *testing.T) {
		m := parse(t, "helm", renderChart(t, chartValues{set: []string{"receiver.config.HZ_MAX_IN_FLIGHT=2048", "workers.config.HZ_ALERT_LOG=false"}}))
		for _, h := range m.hzContainers(t) {
			cfg := effective(h)
			require.NotNil(t, cfg, "%s: settings do not parse", h)
			if h.binary == "receiver" {
				assert.Equal(t, "2048", cfg["max-in-flight"], "%s", h)
			} else {
				assert.Equal(t, "false", cfg["alert-log"], "%s", h)
			}
		}
	})
}
