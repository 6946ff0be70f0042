package lint

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLint(t *testing.T) {
	l := newLinter(t, DefaultConfig())

	t.Run("RSA-1024 breaks the Baseline Requirements", func(t *testing.T) {
		r, err := l.Lint(newLeaf(t, leafOpts{key: rsaKey(t, 1024)}))
		require.NoError(t, err)
		res, ok := r.Result("e_rsa_mod_less_than_2048_bits")
		require.True(t, ok, "results: %+v", r.Results)
		assert.Equal(t, Result{
			Lint: "e_rsa_mod_less_than_2048_bits", Status: StatusError, Source: "CABF_BR", Citation: "BRs: 6.1.5",
			Description: res.Description,
		}, res)
		assert.NotEmpty(t, res.Description)
		assert.False(t, r.Precert)
		assert.Equal(t, len(l.Names()), r.Passed+r.NotApplicable+r.NotEffective+len(r.Results), "every lint is counted once")
		for i := 1; i < len(r.Results); i++ {
			assert.LessOrEqual(t, compareResults(r.Results[i-1], r.Results[i]), 0, "most severe first, then by name")
		}
		for _, res := range r.Results {
			assert.True(t, res.Status.Finding(), "%s: only results worth showing are kept", res.Lint)
		}
		assert.Equal(t, r.Passed, r.Count(StatusPass))
		assert.Equal(t, r.Count(StatusError), countStatus(r, StatusError))
	})
	t.Run("a clean EC certificate has no error", func(t *testing.T) {
		r, err := l.Lint(newLeaf(t, leafOpts{}))
		require.NoError(t, err)
		_, ok := r.Result("e_rsa_mod_less_than_2048_bits")
		assert.False(t, ok)
		assert.Greater(t, r.Passed, 50)
	})
	t.Run("precertificate", func(t *testing.T) {
		r, err := l.Lint(newLeaf(t, leafOpts{precert: true}))
		require.NoError(t, err)
		assert.True(t, r.Precert)
	})
	t.Run("not a certificate", func(t *testing.T) {
		_, err := l.Lint([]byte("not a certificate"))
		require.ErrorIs(t, err, ErrUnparsable)
		_, err = l.Lint(nil)
		require.ErrorIs(t, err, ErrUnparsable)
	})
}

func countStatus(r Report, s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

func TestAlerts(t *testing.T) {
	report := Report{Results: []Result{
		{Lint: "e_br", Status: StatusError, Source: "CABF_BR"},
		{Lint: "e_rfc", Status: StatusError, Source: "RFC5280"},
		{Lint: "e_mozilla", Status: StatusError, Source: "Mozilla"},
		{Lint: "w_br", Status: StatusWarn, Source: "CABF_BR"},
		{Lint: "n_rfc", Status: StatusNotice, Source: "RFC5280"},
	}}
	precert := report
	precert.Precert = true
	names := func(rs []Result) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.Lint)
		}
		return out
	}
	tests := []struct {
		name   string
		policy func(a *AlertPolicy)
		report Report
		want   []string
	}{
		{"default: errors of BR and RFC 5280", func(*AlertPolicy) {}, report, []string{"e_br", "e_rfc"}},
		{"default: nothing on a precertificate", func(*AlertPolicy) {}, precert, []string{}},
		{"precertificates on", func(a *AlertPolicy) { a.Precerts = true }, precert, []string{"e_br", "e_rfc"}},
		{"warnings too", func(a *AlertPolicy) { a.Statuses = append(a.Statuses, StatusWarn) }, report, []string{"e_br", "e_rfc", "w_br"}},
		{"one more lint by name", func(a *AlertPolicy) { a.Include = []string{"e_mozilla"} }, report, []string{"e_br", "e_rfc", "e_mozilla"}},
		{"one lint less", func(a *AlertPolicy) { a.Exclude = []string{"e_rfc"} }, report, []string{"e_br"}},
		{"by source, any case", func(a *AlertPolicy) { a.Sources = []string{"mozilla"} }, report, []string{"e_mozilla"}},
		{"no status", func(a *AlertPolicy) { a.Statuses = nil }, report, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := DefaultConfig().Alert
			tc.policy(&a)
			assert.Equal(t, tc.want, names(a.Alerts(tc.report)))
		})
	}
}

// TestLinterConcurrent lints from many goroutines at once (run with -race): one Linter serves
// every worker, and each gets what a lone call gives.
func TestLinterConcurrent(t *testing.T) {
	l := newLinter(t, DefaultConfig())
	ders := [][]byte{newLeaf(t, leafOpts{}), newLeaf(t, leafOpts{key: rsaKey(t, 1024)}), newLeaf(t, leafOpts{precert: true, days: 500})}
	want := make([]Report, len(ders))
	for i, der := range ders {
		var err error
		want[i], err = l.Lint(der)
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	got := make([][]Report, 8)
	for g := range got {
		wg.Go(func() {
			for range 3 {
				for _, der := range ders {
					r, err := l.Lint(der)
					if !assert.NoError(t, err) {
						return
					}
					got[g] = append(got[g], r)
				}
			}
		})
	}
	wg.Wait()
	for g := range got {
		for i, r := range got[g] {
			assert.Equal(t, want[i%len(ders)], r)
		}
	}
}
