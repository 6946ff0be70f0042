package archcheck

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/hzhook/hzhook/"

// readmeMap reads the rows between the architecture markers of the README: package path →
// allowed hzhook imports, both relative to the module (internal/ as written, or the short names
// of the table, which are under internal/).
func readmeMap(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := bytes.Cut(raw, []byte("<!-- architecture:begin -->"))
	require.True(t, ok, "README.md has no <!-- architecture:begin --> marker")
	table, _, ok := bytes.Cut(rest, []byte("<!-- architecture:end -->"))
	require.True(t, ok, "README.md has no <!-- architecture:end --> marker")
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(table))
	for sc.Scan() {
		cells := strings.Split(strings.Trim(strings.TrimSpace(sc.Text()), "|"), "|")
		if len(cells) != 3 || !strings.Contains(cells[0], "`") {
			continue // header, separator, blank
		}
		pkg := strings.Trim(strings.TrimSpace(cells[0]), "`")
		var allowed []string
		for _, imp := range strings.Split(cells[2], ",") {
			if imp = strings.Trim(strings.TrimSpace(imp), "`"); imp != "" && imp != "—" {
				allowed = append(allowed, "internal/"+imp)
			}
		}
		_, dup := out[pkg]
		require.False(t, dup, "%s has two rows", pkg)
		out[pkg] = allowed
	}
	require.NotEmpty(t, out)
	return out
}

// imports lists every package of the module with the module packages its non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list the packages")
	cmd := exec.Command(goBin, "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	pkgs := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		pkgs[pkg] = []string{}
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				pkgs[pkg] = append(pkgs[pkg], rel)
			}
		}
	}
	return pkgs
}

func TestREADMEMapIsTrue(t *testing.T) {
	want := readmeMap(t)
	got := imports(t)
	for pkg, imps := range got {
		allowed, ok := want[pkg]
		if !assert.True(t, ok, "%s is not in the README's package map: add a row (package, job, what it may import)", pkg) {
			continue
		}
		for _, imp := range imps {
			assert.True(t, slices.Contains(allowed, imp),
				"%s imports %s, which the README's package map does not allow: move the code, or change the map if the design changed", pkg, imp)
		}
	}
	for pkg := range want {
		_, ok := got[pkg]
		assert.True(t, ok, "the README's package map has a row for %s, which does not exist", pkg)
	}
}

// Each binary links only what its job needs. hzctl talks to the Hardenize API, JetStream and the
// worker's HTTP API, never to the database: hzctl certs import stores through HZ_EVENTS and the
// workers, and a database driver in it would mean some command writes the inventory around the
// workers (and their rules and alerts). Only the receiver runs a NATS server (--dev, one machine):
// package queue/embedded keeps it out of every client of the queue.
func TestBinariesLinkOnlyWhatTheyNeed(t *testing.T) {
	natsServer := "github.com/nats-io/nats-server/v2/server"
	tests := []struct {
		cmd, sure string // sure: a package the binary does link, so the list is of its dependencies
		banned    []string
	}{
		{"./cmd/hzctl", module + "internal/certsync", []string{"modernc.org/sqlite", "github.com/jackc/pgx", module + "internal/inventory", module + "internal/ingest", natsServer}},
		{"./cmd/worker", module + "internal/ingest", []string{natsServer, module + "internal/queue/embedded"}},
	}
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list the packages")
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			cmd := exec.Command(goBin, "list", "-deps", tc.cmd)
			cmd.Dir = filepath.Join("..", "..")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "go list: %s", stderr.String())
			deps := strings.Fields(string(out))
			require.Contains(t, deps, tc.sure, "the list is of %s's dependencies", tc.cmd)
			for _, dep := range deps {
				for _, banned := range tc.banned {
					assert.False(t, dep == banned || strings.HasPrefix(dep, banned+"/"), "%s links %s", tc.cmd, dep)
				}
			}
		})
	}
}
