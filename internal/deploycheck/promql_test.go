package deploycheck

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// promQuery is what a PromQL expression reads: the series it selects and the labels it names.
// It comes from a tokenizer, not a full parser (github.com/prometheus/prometheus would be a heavy
// dependency for this): enough to know every metric and label name an alert or a panel uses.
type promQuery struct {
	selectors []promSelector
	// grouping holds the label list of each by, without, on, ignoring, group_left and group_right.
	grouping [][]string
	// aggregations holds the label lists of by (...) clauses only: the labels a result keeps.
	aggregations [][]string
}

// promSelector is one vector selector: a metric name and the labels its matchers name.
type promSelector struct {
	metric string
	labels []string
}

// promKeywords are identifiers that are neither metric nor function names.
var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// promAggregators are the aggregation operators, which may be followed by by (...) or without (...)
// before their parenthesized argument.
var promAggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// promGrouping are the keywords followed by a parenthesized label list.
var promGrouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

type promToken struct {
	kind byte // 'i' identifier, 's' string, 'n' number or duration, 'v' Grafana variable, 'p' punctuation
	text string
}

// tokenizePromQL splits an expression into identifiers, strings, numbers, Grafana variables
// ($__rate_interval, ${datasource}) and punctuation, dropping comments.
func tokenizePromQL(expr string) ([]promToken, error) {
	var toks []promToken
	rs := []rune(expr)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '#': // comment to the end of the line
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case r == '"' || r == '\'' || r == '`':
			j := i + 1
			for j < len(rs) && rs[j] != r {
				if rs[j] == '\\' && r != '`' {
					j++
				}
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, promToken{'s', string(rs[i+1 : j])})
			i = j + 1
		case r == '$':
			j := i + 1
			if j < len(rs) && rs[j] == '{' {
				for j < len(rs) && rs[j] != '}' {
					j++
				}
				j++
			} else {
				for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_') {
					j++
				}
			}
			toks = append(toks, promToken{'v', string(rs[i:j])})
			i = j
		case unicode.IsDigit(r) || r == '.' && i+1 < len(rs) && unicode.IsDigit(rs[i+1]):
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '.' || rs[j] == '_') {
				j++
			}
			toks = append(toks, promToken{'n', string(rs[i:j])})
			i = j
		case unicode.IsLetter(r) || r == '_' || r == ':':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == ':') {
				j++
			}
			toks = append(toks, promToken{'i', string(rs[i:j])})
			i = j
		default:
			j := i + 1
			if j < len(rs) && strings.ContainsRune("=~", rs[j]) && strings.ContainsRune("!=<>", r) {
				j++
			}
			toks = append(toks, promToken{'p', string(rs[i:j])})
			i = j
		}
	}
	return toks, nil
}

// parsePromQL finds the selectors and label lists of an expression.
func parsePromQL(expr string) (promQuery, error) {
	toks, err := tokenizePromQL(expr)
	if err != nil {
		return promQuery{}, err
	}
	var q promQuery
	at := func(i int, kind byte, text string) bool {
		return i < len(toks) && toks[i].kind == kind && (text == "" || toks[i].text == text)
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == 'i' && promGrouping[t.text] && at(i+1, 'p', "("):
			var list []string
			j := i + 2
			for ; j < len(toks) && !at(j, 'p', ")"); j++ {
				switch {
				case at(j, 'i', ""):
					list = append(list, toks[j].text)
				case at(j, 'p', ","):
				default:
					return q, fmt.Errorf("%s (...): unexpected %q", t.text, toks[j].text)
				}
			}
			if j == len(toks) {
				return q, fmt.Errorf("%s (: no closing parenthesis", t.text)
			}
			q.grouping = append(q.grouping, list)
			if t.text == "by" {
				q.aggregations = append(q.aggregations, list)
			}
			i = j
		case t.kind == 'i' && promKeywords[t.text]:
		case t.kind == 'i' && at(i+1, 'p', "("): // a function or an aggregation operator
		case t.kind == 'i' && promAggregators[t.text] && (at(i+1, 'i', "by") || at(i+1, 'i', "without")):
		case t.kind == 'i':
			sel := promSelector{metric: t.text}
			if at(i+1, 'p', "{") {
				labels, end, err := matcherLabels(toks, i+1)
				if err != nil {
					return q, fmt.Errorf("%s: %w", t.text, err)
				}
				sel.labels, i = labels, end
			}
			q.selectors = append(q.selectors, sel)
		case t.kind == 'p' && t.text == "{":
			return q, fmt.Errorf("a selector without a metric name ({__name__=...}) cannot be checked; name the metric")
		case t.kind == 'p' && t.text == "[": // a range or subquery: durations and variables only
			for i++; i < len(toks) && !at(i, 'p', "]"); i++ {
				if toks[i].kind == 'i' {
					return q, fmt.Errorf("unexpected %q in a range", toks[i].text)
				}
			}
		}
	}
	if len(q.selectors) == 0 {
		return q, fmt.Errorf("no metric selected")
	}
	return q, nil
}

// matcherLabels reads the label matchers of a selector from the "{" at toks[open] and returns their
// label names and the index of the closing "}".
func matcherLabels(toks []promToken, open int) ([]string, int, error) {
	var labels []string
	i := open + 1
	for i < len(toks) {
		if toks[i].kind == 'p' && toks[i].text == "}" {
			return labels, i, nil
		}
		if toks[i].kind == 'p' && toks[i].text == "," {
			i++
			continue
		}
		if i+2 >= len(toks) || toks[i].kind != 'i' || toks[i+1].kind != 'p' ||
			!slices.Contains([]string{"=", "!=", "=~", "!~"}, toks[i+1].text) || toks[i+2].kind != 's' {
			return nil, 0, fmt.Errorf("malformed label matcher near %q", toks[i].text)
		}
		labels = append(labels, toks[i].text)
		i += 3
	}
	return nil, 0, fmt.Errorf("unterminated label matchers")
}
