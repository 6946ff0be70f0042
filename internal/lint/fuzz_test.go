package lint

import (
	"errors"
	"testing"
)

// FuzzLint feeds DER from anywhere (a CT log holds whatever was submitted) to one Linter: it
// never panics, an error is always ErrUnparsable, and every lint that ran is accounted for.
//
//	go test -run '^$' -fuzz '^FuzzLint$' -fuzztime 10000x ./internal/lint/
func FuzzLint(f *testing.F) {
	f.Add(newLeaf(f, leafOpts{}))
	f.Add(newLeaf(f, leafOpts{key: rsaKey(f, 1024), precert: true, days: 500}))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte{})
	l, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := l.Lint(der)
		if err != nil {
			if !errors.Is(err, ErrUnparsable) {
				t.Fatalf("error is not ErrUnparsable: %v", err)
			}
			return
		}
		if n := r.Passed + r.NotApplicable + r.NotEffective + len(r.Results); n != len(l.Names()) {
			t.Fatalf("%d results for %d lints", n, len(l.Names()))
		}
	})
}
