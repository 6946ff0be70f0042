// Package corpus gives tests real certificates that no one here made: every certificate in the
// testdata directory of the zlint module (github.com/zmap/zlint/v3), read from the Go module
// cache, where the module zip puts it. Nothing is copied into this repository.
//
// It also builds the pki.cert.new and ct.entry bodies Hardenize would send for each one, and
// computes the tbsSha256 that links a precertificate to its certificate, all without the code
// under test (internal/events, internal/rules), so that tests compare against an independent
// computation. It is imported by tests only.
package corpus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Module is the module whose testdata is the corpus; it is a dependency of internal/lint, so
// building any test that links zlint puts it in the module cache.
const Module = "github.com/zmap/zlint/v3"

// Cert is one corpus certificate.
type Cert struct {
	Name   string // path of its file under testdata, with "#2" etc. for a later PEM block
	DER    []byte
	SHA256 string // lowercase hex
}

// Dir returns the zlint module's testdata directory. When it cannot be found the test fails
// under CI (CI=true, as .ci/run sets it) and is skipped elsewhere, never passing silently.
func Dir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", Module).Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	if err == nil && strings.TrimSpace(string(out)) != "" {
		if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
			return dir
		}
	}
	// Reading CI here, below cmd/, is deliberate: it decides only whether a missing corpus fails
	// the test, and CI is what sets it.
	msg := "zlint testdata not found in the module cache (go list -m -f {{.Dir}} " + Module + ")"
	if err != nil {
		msg += ": " + err.Error()
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Certs returns every certificate of the corpus once (by SHA-256), sorted by name: each
// "CERTIFICATE" PEM block of every file under testdata, recursively. CRLs, OCSP responses and
// other blocks are left out.
func Certs(t testing.TB) []Cert {
	t.Helper()
	root := Dir(t)
	seen := map[string]bool{}
	var out []Cert
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		name, _ := filepath.Rel(root, path)
		for n := 1; ; n++ {
			var b *pem.Block
			if b, data = pem.Decode(data); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			sum := sha256.Sum256(b.Bytes)
			sha := hex.EncodeToString(sum[:])
			if seen[sha] {
				continue
			}
			seen[sha] = true
			c := Cert{Name: filepath.ToSlash(name), DER: bytes.Clone(b.Bytes), SHA256: sha}
			if n > 1 {
				c.Name += "#" + strconv.Itoa(n)
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read zlint testdata: %v", err)
	}
	if len(out) == 0 {
		t.Fatalf("no certificate in %s", root)
	}
	slices.SortFunc(out, func(a, b Cert) int { return strings.Compare(a.Name, b.Name) })
	return out
}
