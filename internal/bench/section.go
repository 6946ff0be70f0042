package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// resultsHeader starts a new results file.
const resultsHeader = "# hzhook benchmark results\n\nWritten by `make bench`; re-run it to refresh. Each section is one benchmark, measured side by side with its baseline in one run; figures are from one machine and only comparable within a section.\n\n"

// UpdateSection replaces the section of the markdown file at path that starts with heading (a
// "## " line) up to the next "## " line with body, which starts with that heading; a missing
// section is appended and a missing file created. Re-running one benchmark so keeps the others.
func UpdateSection(path, heading string, body []byte) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if len(old) == 0 {
		old = []byte(resultsHeader)
	}
	lines := strings.SplitAfter(string(old), "\n")
	var out bytes.Buffer
	replaced, skipping := false, false
	for _, l := range lines {
		if strings.HasPrefix(l, "## ") {
			skipping = strings.TrimSpace(l) == heading
			if skipping && !replaced {
				out.Write(body)
				replaced = true
			}
		}
		if !skipping {
			out.WriteString(l)
		}
	}
	if !replaced {
		if !bytes.HasSuffix(out.Bytes(), []byte("\n\n")) {
			out.WriteString("\n")
		}
		out.Write(body)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("results dir: %w", err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// conditions is the line that says under which conditions a section was measured.
func conditions(loadAvg, note string) string {
	s := "Load average (1 min) at the start: " + loadAvg + "."
	if note != "" {
		s += " " + note
	}
	return s
}

// measuredOn opens every section: when, and on what kind of machine.
func measuredOn(now time.Time) string {
	return fmt.Sprintf("Measured %s on %d cores (%s/%s, %s)", now.UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
