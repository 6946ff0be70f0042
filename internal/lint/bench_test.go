package lint_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/lint"
	"github.com/hzhook/hzhook/internal/lint/corpus"
)

// BenchmarkLint lints zlint's testdata corpus, one certificate per iteration on one goroutine, so
// certs/s is the rate of one core: with the default sources and with every zlint source. Certificates
// differ widely in cost; -benchtime 1427x (the parsable corpus) averages over each once.
//
//	go test -run '^$' -bench BenchmarkLint -cpu 1 -benchtime 1427x ./internal/lint/
func BenchmarkLint(b *testing.B) {
	var ders [][]byte
	for _, c := range corpus.Certs(b) {
		if _, err := lint.Parse(c.DER); err == nil {
			ders = append(ders, c.DER)
		}
	}
	all := lint.DefaultConfig()
	all.Sources = lint.AllSources()
	for _, bc := range []struct {
		name string
		cfg  lint.Config
	}{{"sources=default", lint.DefaultConfig()}, {"sources=all", all}} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := lint.New(bc.cfg)
			require.NoError(b, err)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := l.Lint(ders[i%len(ders)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "certs/s")
			b.ReportMetric(float64(len(l.Names())), "lints")
		})
	}
}
