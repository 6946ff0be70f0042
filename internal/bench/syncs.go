package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
)

// ErrNotTraced is returned by Syncs for a process that did not run under strace.
var ErrNotTraced = errors.New("not traced (strace not installed, or Proc.Strace not set)")

// syncCall matches a line of strace's output that starts a call which puts data on the disk: fsync
// and fdatasync, and an openat with O_SYNC or O_DSYNC (every write to such a file is synced;
// nats-server writes an atomic batch's staging metadata so). "<... fsync resumed>" lines finish a
// call counted at its start.
var syncCall = regexp.MustCompile(`^\d+\s+(?:(?:fsync|fdatasync)\(|openat\(.*\bO_D?SYNC\b)`)

// Syncs is the number of disk syncs the process has made so far (see Proc.Strace), counted in
// strace's output: call it before and after a load and take the difference.
func (p *Proc) Syncs() (int, error) {
	if p.Strace == "" || p.child == 0 {
		return 0, ErrNotTraced
	}
	f, err := os.Open(p.Strace)
	if err != nil {
		return 0, fmt.Errorf("read strace output: %w", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if syncCall.Match(sc.Bytes()) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("read strace output: %w", err)
	}
	return n, nil
}
