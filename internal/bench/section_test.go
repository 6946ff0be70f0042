package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpdateSection(t *testing.T) {
	tests := []struct {
		name, before, heading, body, want string
	}{
		{
			name:    "new file gets the header and the section",
			heading: "## A", body: "## A\n\na1\n\n",
			want: resultsHeader + "## A\n\na1\n\n",
		},
		{
			name:   "a missing section is appended",
			before: "# r\n\n## A\n\na1\n\n", heading: "## B", body: "## B\n\nb1\n\n",
			want: "# r\n\n## A\n\na1\n\n## B\n\nb1\n\n",
		},
		{
			name:   "a section is replaced in place, the others kept",
			before: "# r\n\n## A\n\na1\n\n## B\n\nb1\n\n## C\n\nc1\n", heading: "## B", body: "## B\n\nb2\n\n",
			want: "# r\n\n## A\n\na1\n\n## B\n\nb2\n\n## C\n\nc1\n",
		},
		{
			name:   "the last section is replaced to the end",
			before: "# r\n\n## A\n\na1\n\n## B\n\nb1\nmore\n", heading: "## B", body: "## B\n\nb2\n\n",
			want: "# r\n\n## A\n\na1\n\n## B\n\nb2\n\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bench", "results.md")
			if tc.before != "" {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(tc.before), 0o644))
			}
			require.NoError(t, UpdateSection(path, tc.heading, []byte(tc.body)))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestParseBenchMetrics(t *testing.T) {
	out := "goos: linux\nBenchmarkDrain-2   \t       1\t35000000000 ns/op\t       812.5 sqlite-per-message-events/s\t     15000 sqlite-batched-events/s\t18.46 sqlite-speedup-x\nPASS\n"
	m, err := parseBenchMetrics(out, "BenchmarkDrain")
	require.NoError(t, err)
	assert.InDelta(t, 812.5, m["sqlite-per-message-events/s"], 1e-9)
	assert.InDelta(t, 15000, m["sqlite-batched-events/s"], 1e-9)
	assert.NotContains(t, m, "postgres-batched-events/s")

	_, err = parseBenchMetrics("PASS\n", "BenchmarkDrain")
	require.Error(t, err)
}

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		p    float64
		want float64
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}, {0, 1}}
	for _, tc := range tests {
		assert.InDelta(t, tc.want, percentile(v, tc.p), 1e-9, "p%v", tc.p)
	}
	assert.Zero(t, percentile(nil, 0.5))
}
