package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The lint section reads go test's lines of both source selections.
func TestLintReport(t *testing.T) {
	out := `goos: linux
BenchmarkLint/sources=default         	    1427	    742273 ns/op	      1347 certs/s	       320.0 lints	  129662 B/op	    2293 allocs/op
BenchmarkLint/sources=all             	    1427	   4345251 ns/op	       230.1 certs/s	       427.0 lints	  380540 B/op	    5266 allocs/op
PASS`
	rep := LintReport{LoadAverage: "1.00", Options: LintOptions{Package: "./internal/lint/", Certs: 1427}}
	for _, src := range []string{"default", "all"} {
		m, err := parseBenchMetrics(out, "BenchmarkLint/sources="+src)
		require.NoError(t, err)
		rep.Results = append(rep.Results, LintResult{Sources: src, PerSec: m["certs/s"], Lints: int(m["lints"]), AllocsOp: m["allocs/op"]})
	}
	var b bytes.Buffer
	rep.WriteMarkdown(&b, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	assert.Contains(t, b.String(), "| default | 320 | 1347 | 0.74 | 2293 |")
	assert.Contains(t, b.String(), "| all | 427 | 230 | 4.35 | 5266 |")
	assert.Contains(t, b.String(), "All sources cost 5.9× the default ones.")
}
