package deploycheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dashboardFile is the Grafana dashboard, relative to the repository root. The chart ships the same
// file (deploy/helm/hzhook/dashboards/hzhook.json) and deploy/grafana/kustomization.yaml makes the
// kustomize base's ConfigMap of it.
const dashboardFile = "deploy/grafana/hzhook.json"

// dashboardConfigMap is the ConfigMap the Grafana sidecar loads the dashboard from, by the label
// dashboardLabel (the grafana chart's default sidecar.dashboards.label).
const (
	dashboardConfigMap = "hzhook-grafana-dashboard"
	dashboardLabel     = "grafana_dashboard"
)

// dashboard is the part of Grafana's dashboard JSON model the checks read. Decoding is lenient on
// purpose: a dashboard exported from Grafana carries many more fields.
type dashboard struct {
	UID           string           `json:"uid"`
	Title         string           `json:"title"`
	SchemaVersion int              `json:"schemaVersion"`
	Panels        []dashboardPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type dashboardPanel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Datasource  *datasourceRef `json:"datasource"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID        string         `json:"refId"`
		Expr         string         `json:"expr"`
		LegendFormat string         `json:"legendFormat"`
		Datasource   *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // of a collapsed row
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// requiredPanels are the panels issue #19 asks for, by title, with a series each must read.
func requiredPanels() map[string]string {
	return map[string]string{
		"Webhook answers by code":             "hz_http_requests_total",
		"Rejections by reason":                "hz_intake_rejected_total",
		"Enqueue latency":                     "hz_intake_enqueue_seconds_bucket",
		"Consumer lag":                        "hz_dispatch_consumer_pending_messages",
		"Processing outcomes":                 "hz_dispatch_processed_total",
		"Dead letters by stage":               "hz_dlq_messages",
		"Findings by type":                    "hz_alerts_findings_total",
		"Alerts by sink":                      "hz_alerts_delivered_total",
		"Time since the last event, per type": "hz_worker_last_event_timestamp_seconds",
		"Pub/Sub backlog age":                 "hz_pubsub_message_age_seconds_bucket",
	}
}

// labelValuesQuery is a Grafana variable query label_values(metric, label).
var labelValuesQuery = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

func readDashboard(t *testing.T) (dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), dashboardFile))
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d), "%s is not valid JSON", dashboardFile)
	return d, raw
}

// allPanels flattens rows (collapsed ones hold their panels).
func allPanels(ps []dashboardPanel) []dashboardPanel {
	var out []dashboardPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// TestDashboard: the dashboard has every panel the issue asks for, and every query reads only
// metrics and labels the binaries export (read from their metric definitions, see codeMetrics),
// through the datasource variable, filtered by the namespace variable.
func TestDashboard(t *testing.T) {
	d, _ := readDashboard(t)
	known := series(codeMetrics(t))
	panels := allPanels(d.Panels)
	require.NotEmpty(t, d.UID, "the dashboard needs a fixed uid, so links to it survive a re-import")
	require.NotZero(t, d.SchemaVersion)

	t.Run("every panel the issue asks for", func(t *testing.T) {
		for title, metric := range requiredPanels() {
			var found *dashboardPanel
			for i := range panels {
				if panels[i].Title == title {
					found = &panels[i]
				}
			}
			if !assert.NotNil(t, found, "no panel %q", title) {
				continue
			}
			var reads []string
			for _, tg := range found.Targets {
				q, err := parsePromQL(tg.Expr)
				require.NoError(t, err, "panel %q", title)
				for _, s := range q.selectors {
					reads = append(reads, s.metric)
				}
			}
			assert.Contains(t, reads, metric, "panel %q must show %s", title, metric)
		}
	})

	t.Run("queries read exported metrics and labels", func(t *testing.T) {
		for _, p := range panels {
			if p.Type == "row" {
				continue
			}
			require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
			assert.NotEmpty(t, p.Description, "panel %q: say what it shows and what to do about it", p.Title)
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				assert.False(t, refs[tg.RefID], "panel %q: refId %s twice", p.Title, tg.RefID)
				refs[tg.RefID] = true
				for _, problem := range queryProblems(known, tg.Expr, tg.LegendFormat) {
					t.Errorf("panel %q, query %s: %s\n  %s", p.Title, tg.RefID, problem, tg.Expr)
				}
				q, err := parsePromQL(tg.Expr)
				if err != nil {
					continue // reported above
				}
				for _, s := range q.selectors {
					assert.Contains(t, s.labels, "namespace", "panel %q, query %s: select %s by namespace=~\"$namespace\"", p.Title, tg.RefID, s.metric)
				}
				for _, ds := range []*datasourceRef{p.Datasource, tg.Datasource} {
					if assert.NotNil(t, ds, "panel %q: set the datasource", p.Title) {
						assert.Equal(t, datasourceRef{Type: "prometheus", UID: "${datasource}"}, *ds, "panel %q: use the datasource variable", p.Title)
					}
				}
			}
		}
	})

	t.Run("template variables", func(t *testing.T) {
		names := map[string]bool{}
		for _, v := range d.Templating.List {
			names[v.Name] = true
			if v.Type != "query" {
				continue
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				require.NoError(t, json.Unmarshal(v.Query, &q.Query), "variable %s: query", v.Name)
			}
			m := labelValuesQuery.FindStringSubmatch(q.Query)
			require.NotNil(t, m, "variable %s: only label_values(metric, label) queries are checked, not %q", v.Name, q.Query)
			labels, ok := known[m[1]]
			assert.True(t, ok, "variable %s reads %s, which the binaries do not export", v.Name, m[1])
			assert.Contains(t, labels, m[2], "variable %s: %s has no label %s", v.Name, m[1], m[2])
		}
		assert.True(t, names["datasource"] && names["namespace"], "the dashboard needs the variables datasource and namespace, has %v", names)
	})

	t.Run("panels fit the grid without overlapping", func(t *testing.T) {
		ids := map[int]string{}
		for i, p := range panels {
			g := p.GridPos
			assert.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.X+g.W <= 24, "panel %q: gridPos %+v outside the 24 columns", p.Title, g)
			if other, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			for _, q := range panels[:i] {
				h := q.GridPos
				if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
					t.Errorf("panels %q and %q overlap", q.Title, p.Title)
				}
			}
		}
	})
}

// checkDashboardConfigMap: the manifest ships the dashboard for the Grafana sidecar, labelled for it,
// with exactly the content of deploy/grafana/hzhook.json.
func checkDashboardConfigMap(t tb, _ overlay, m *manifest) {
	cm := m.configMap(dashboardConfigMap)
	require.NotNil(t, cm, "no ConfigMap %s for the Grafana sidecar", dashboardConfigMap)
	assert.NotEmpty(t, cm.Labels[dashboardLabel], "ConfigMap %s: the Grafana sidecar loads ConfigMaps labelled %s", cm.Name, dashboardLabel)
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), dashboardFile))
	require.NoError(t, err)
	got, ok := cm.Data["hzhook.json"]
	require.True(t, ok, "ConfigMap %s has no key hzhook.json", cm.Name)
	assert.Equal(t, strings.TrimSpace(string(raw)), strings.TrimSpace(got), "ConfigMap %s does not hold %s", cm.Name, dashboardFile)
	assert.True(t, json.Valid([]byte(got)), fmt.Sprintf("ConfigMap %s: hzhook.json is not valid JSON", cm.Name))
}
