package deploycheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exportedMetric is a metric the binaries export: its label names by series name (a histogram has
// _bucket with le, _sum and _count).
type exportedMetric struct {
	name   string
	kind   string // Counter, Gauge, Histogram, Summary
	file   string // where it is defined, for messages
	labels []string
}

// targetLabels are added to every scraped series by Prometheus (job, instance) and by the Prometheus
// Operator's ServiceMonitor (namespace, service, pod, container, endpoint): the dashboard filters on
// namespace.
func targetLabels() []string {
	return []string{"job", "instance", "namespace", "service", "pod", "container", "endpoint"}
}

// exporterSeries are the series the alerts take from prometheus-nats-exporter (-jsz=all beside each
// NATS node) rather than from hzhook's code, with the labels of its JetStream collector they use.
func exporterSeries() map[string][]string {
	return map[string][]string{
		"jetstream_consumer_num_pending":  {"server_id", "stream_name", "consumer_name", "account"},
		"jetstream_stream_total_messages": {"server_id", "stream_name", "account"},
	}
}

// promOptsKinds maps the prometheus options types to the metric kinds they define.
var promOptsKinds = map[string]string{"CounterOpts": "Counter", "GaugeOpts": "Gauge", "HistogramOpts": "Histogram", "SummaryOpts": "Summary"}

// codeMetrics reads every metric the non-test Go code under internal/ defines, with its labels, from
// the source: each prometheus.New<Kind>[Vec] call (directly or through promauto) with an options
// literal, the label list of its Vec, its ConstLabels, and the labels of a
// prometheus.WrapRegistererWith in the same function. A definition this cannot read (a name or a
// label list that is not a literal) fails the test, so nothing is exported unchecked.
func codeMetrics(t tb) map[string]exportedMetric {
	t.Helper()
	root := filepath.Join(repoRoot(t), "internal")
	metrics := map[string]exportedMetric{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot(t), p)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			defs, err := metricDefinitions(fn)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", rel, fn.Name.Name, err)
			}
			for _, m := range defs {
				m.file = rel
				if prev, dup := metrics[m.name]; dup && strings.Join(prev.labels, ",") != strings.Join(m.labels, ",") {
					return fmt.Errorf("%s defined twice with different labels (%s, %s)", m.name, prev.file, rel)
				}
				metrics[m.name] = m
			}
		}
		return nil
	})
	require.NoError(t, err, "reading the metric definitions under internal/")
	require.NotEmpty(t, metrics, "no metric definitions found under %s", root)
	return metrics
}

// metricDefinitions returns the metrics one function defines.
func metricDefinitions(fn *ast.FuncDecl) ([]exportedMetric, error) {
	var wrapped []string // labels a WrapRegistererWith in this function adds
	var defs []exportedMetric
	var err error
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || err != nil {
			return err == nil
		}
		name := calleeName(call)
		switch {
		case name == "WrapRegistererWith" && len(call.Args) == 2:
			keys, e := labelsLiteralKeys(call.Args[0])
			if e != nil {
				err = fmt.Errorf("WrapRegistererWith: %w", e)
				return false
			}
			wrapped = append(wrapped, keys...)
		case name == "WrapRegistererWithPrefix":
			err = fmt.Errorf("WrapRegistererWithPrefix changes metric names; the deployment checks cannot follow it")
			return false
		case strings.HasPrefix(name, "New") && len(call.Args) >= 1:
			lit, ok := call.Args[0].(*ast.CompositeLit)
			if !ok {
				return true
			}
			kind, ok := promOptsKinds[typeName(lit.Type)]
			if !ok {
				return true
			}
			m, e := metricFromOpts(kind, lit)
			if e != nil {
				err = e
				return false
			}
			if strings.HasSuffix(name, "Vec") {
				if len(call.Args) < 2 {
					err = fmt.Errorf("%s: %s without a label list", m.name, name)
					return false
				}
				labels, e := stringSlice(call.Args[1])
				if e != nil {
					err = fmt.Errorf("%s: labels: %w (write them as a []string literal)", m.name, e)
					return false
				}
				m.labels = append(m.labels, labels...)
			}
			defs = append(defs, m)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for i := range defs {
		defs[i].labels = append(defs[i].labels, wrapped...)
		sort.Strings(defs[i].labels)
	}
	return defs, nil
}

// metricFromOpts reads Name and ConstLabels of a prometheus options literal.
func metricFromOpts(kind string, lit *ast.CompositeLit) (exportedMetric, error) {
	m := exportedMetric{kind: kind}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return m, fmt.Errorf("prometheus.%sOpts literal without field names", kind)
		}
		key, _ := kv.Key.(*ast.Ident)
		if key == nil {
			continue
		}
		switch key.Name {
		case "Name":
			s, err := stringLit(kv.Value)
			if err != nil {
				return m, fmt.Errorf("metric Name: %w (write the full name as a string literal)", err)
			}
			m.name = s
		case "Namespace", "Subsystem":
			return m, fmt.Errorf("metric %s: give the whole name in Name, not through %s", m.name, key.Name)
		case "ConstLabels":
			keys, err := labelsLiteralKeys(kv.Value)
			if err != nil {
				return m, fmt.Errorf("metric ConstLabels: %w", err)
			}
			m.labels = append(m.labels, keys...)
		}
	}
	if m.name == "" {
		return m, fmt.Errorf("prometheus.%sOpts without a Name", kind)
	}
	return m, nil
}

func calleeName(call *ast.CallExpr) string {
	switch f := call.Fun.(type) {
	case *ast.SelectorExpr:
		return f.Sel.Name
	case *ast.Ident:
		return f.Name
	}
	return ""
}

func typeName(e ast.Expr) string {
	if s, ok := e.(*ast.SelectorExpr); ok {
		return s.Sel.Name
	}
	return ""
}

func stringLit(e ast.Expr) (string, error) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", fmt.Errorf("not a string literal")
	}
	return strconv.Unquote(lit.Value)
}

func stringSlice(e ast.Expr) ([]string, error) {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, fmt.Errorf("not a literal")
	}
	var out []string
	for _, el := range lit.Elts {
		s, err := stringLit(el)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// labelsLiteralKeys returns the keys of a prometheus.Labels{...} literal.
func labelsLiteralKeys(e ast.Expr) ([]string, error) {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, fmt.Errorf("labels are not a prometheus.Labels literal")
	}
	var keys []string
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return nil, fmt.Errorf("labels literal without keys")
		}
		k, err := stringLit(kv.Key)
		if err != nil {
			return nil, fmt.Errorf("label name: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// series lists every series name the binaries export with the labels a query may name on it:
// the metric's own, le on a histogram's _bucket (quantile on a summary), and the target labels.
func series(metrics map[string]exportedMetric) map[string][]string {
	out := map[string][]string{}
	for _, m := range metrics {
		labels := append(append([]string(nil), m.labels...), targetLabels()...)
		switch m.kind {
		case "Histogram":
			out[m.name+"_bucket"] = append(append([]string(nil), labels...), "le")
			out[m.name+"_sum"] = labels
			out[m.name+"_count"] = labels
		case "Summary":
			out[m.name] = append(append([]string(nil), labels...), "quantile")
			out[m.name+"_sum"] = labels
			out[m.name+"_count"] = labels
		default:
			out[m.name] = labels
		}
	}
	for name, labels := range exporterSeries() {
		out[name] = append(append([]string(nil), labels...), targetLabels()...)
	}
	return out
}

// queryProblems lists what a PromQL expression names that is not exported: unknown series, labels a
// selector matches that its series lacks, grouping labels no series of the expression has, and
// legend labels ({{label}} in a Grafana legend) an aggregation drops.
func queryProblems(known map[string][]string, expr, legend string) []string {
	q, err := parsePromQL(expr)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the query: %v", err)}
	}
	var problems []string
	all := map[string]bool{}
	for _, s := range q.selectors {
		labels, ok := known[s.metric]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is not a series the binaries (or the NATS exporter) export", s.metric))
			continue
		}
		for _, l := range labels {
			all[l] = true
		}
		for _, l := range s.labels {
			if !slices.Contains(labels, l) {
				problems = append(problems, fmt.Sprintf("%s has no label %s (it has %s)", s.metric, l, strings.Join(labels, ", ")))
			}
		}
	}
	for _, list := range q.grouping {
		for _, l := range list {
			if !all[l] {
				problems = append(problems, fmt.Sprintf("groups by %s, a label of none of the series it reads", l))
			}
		}
	}
	for _, l := range legendLabels(legend) {
		if !all[l] {
			problems = append(problems, fmt.Sprintf("legend names %s, a label of none of the series it reads", l))
		}
		for _, agg := range q.aggregations {
			if !slices.Contains(agg, l) {
				problems = append(problems, fmt.Sprintf("legend names %s, which by (%s) drops", l, strings.Join(agg, ", ")))
			}
		}
	}
	return problems
}

// legendLabels returns the label names of a Grafana legend format: {{code}}, {{ reason }}.
func legendLabels(legend string) []string {
	var out []string
	for rest := legend; ; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			return out
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return append(out, "{{ without }}")
		}
		out = append(out, strings.TrimSpace(rest[i+2:i+j]))
		rest = rest[i+j+2:]
	}
}

// TestQueryProblems: a query on a metric nobody exports, a label a metric lacks, or a legend label
// an aggregation drops is reported; queries on what the binaries export are not.
func TestQueryProblems(t *testing.T) {
	known := series(codeMetrics(t))
	cases := []struct {
		name, expr, legend, want string
	}{
		{"unknown metric", `sum(rate(hz_webhooks_total{namespace=~"$namespace"}[$__rate_interval]))`, "", "hz_webhooks_total is not a series"},
		{"histogram without _bucket", `histogram_quantile(0.99, sum by (le) (rate(hz_intake_enqueue_seconds{namespace=~"$namespace"}[5m])))`, "", "hz_intake_enqueue_seconds is not a series"},
		{"label the metric lacks", `sum by (reason) (rate(hz_intake_enqueued_total[5m]))`, "", "groups by reason"},
		{"matcher on a missing label", `rate(hz_dispatch_processed_total{stage="alerts"}[5m])`, "", "has no label stage"},
		{"legend label dropped by the aggregation", `sum by (source) (rate(hz_intake_rejected_total[5m]))`, "{{reason}}", "which by (source) drops"},
		{"legend label of no series", `rate(hz_http_requests_total[5m])`, "{{status}}", "legend names status"},
		{"unreadable query", `sum(rate({__name__="hz_http_requests_total"}[5m]))`, "", "cannot read the query"},
		{"exported metric and labels", `sum by (code) (rate(hz_http_requests_total{listener="webhook", namespace=~"$namespace"}[$__rate_interval]))`, "{{code}}", ""},
		{"exporter metric", `max by (consumer_name) (jetstream_consumer_num_pending{stream_name="HZ_EVENTS"}) > 1000`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := strings.Join(queryProblems(known, tc.expr, tc.legend), "\n")
			if tc.want == "" {
				assert.Empty(t, problems)
				return
			}
			assert.Contains(t, problems, tc.want)
		})
	}
}

// TestCodeMetrics: the definitions are read with their labels, including those a wrapped registerer
// adds (the listener label of the HTTP metrics), and histograms get their series.
func TestCodeMetrics(t *testing.T) {
	metrics := codeMetrics(t)
	cases := []struct {
		name, kind string
		labels     []string
	}{
		{"hz_http_requests_total", "Counter", []string{"code", "listener"}},
		{"hz_intake_rejected_total", "Counter", []string{"reason", "source"}},
		{"hz_dispatch_processed_total", "Counter", []string{"consumer", "outcome", "type"}},
		{"hz_intake_enqueue_seconds", "Histogram", nil},
		{"hz_worker_last_event_timestamp_seconds", "Gauge", []string{"type"}},
	}
	for _, tc := range cases {
		m, ok := metrics[tc.name]
		if assert.True(t, ok, "%s not found", tc.name) {
			assert.Equal(t, tc.kind, m.kind, tc.name)
			assert.Equal(t, tc.labels, m.labels, tc.name)
		}
	}
	s := series(metrics)
	assert.Contains(t, s["hz_intake_enqueue_seconds_bucket"], "le")
	assert.Contains(t, s, "hz_intake_enqueue_seconds_count")
	assert.NotContains(t, s, "hz_intake_enqueue_seconds")
}
