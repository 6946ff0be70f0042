package deploycheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// imageBinaries are the commands the image ships in /usr/local/bin (tools such as benchmarks stay out).
func imageBinaries() []string { return []string{"receiver", "worker", "hzctl"} }

// TestImageMatchesMakeBuild: the Dockerfile builds static binaries with the flags of `make build`
// (which CI runs where no Docker engine exists), ships receiver, worker and hzctl in /usr/local/bin,
// and runs as a non-root user on a distroless base.
func TestImageMatchesMakeBuild(t *testing.T) {
	root := repoRoot(t)
	dockerfile := read(t, filepath.Join(root, "Dockerfile"))
	makefile := read(t, filepath.Join(root, "Makefile"))

	build := regexp.MustCompile(`(?m)^build:.*\n\t(.*)$`).FindStringSubmatch(makefile)
	require.NotNil(t, build, "Makefile has no build target")
	ldflags := regexp.MustCompile(`(?m)^LDFLAGS\s*\?=\s*(.*)$`).FindStringSubmatch(makefile)
	require.NotNil(t, ldflags, "Makefile sets no LDFLAGS")
	recipe := strings.ReplaceAll(build[1], "$(LDFLAGS)", strings.TrimSpace(ldflags[1]))

	for _, flag := range []string{"CGO_ENABLED=0", "-trimpath", "-ldflags '-s -w'", "./cmd/..."} {
		assert.Contains(t, recipe, flag, "make build")
		assert.Contains(t, dockerfile, flag, "Dockerfile")
	}

	copyLine := regexp.MustCompile(`(?m)^COPY --from=build (.*) /usr/local/bin/$`).FindStringSubmatch(dockerfile)
	require.NotNil(t, copyLine, "Dockerfile copies no binaries to /usr/local/bin/")
	for _, bin := range imageBinaries() {
		assert.DirExists(t, filepath.Join(root, "cmd", bin))
		assert.Contains(t, strings.Fields(copyLine[1]), "/out/"+bin, "Dockerfile does not ship cmd/%s", bin)
	}

	stages := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(dockerfile, -1)
	require.NotEmpty(t, stages)
	assert.Contains(t, stages[len(stages)-1][1], "distroless/static", "final stage")
	user := regexp.MustCompile(`(?m)^USER\s+(\d+)`).FindStringSubmatch(dockerfile)
	require.NotNil(t, user, "Dockerfile must set a numeric USER (runAsNonRoot needs a uid)")
	assert.NotEqual(t, "0", user[1], "Dockerfile USER")
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
