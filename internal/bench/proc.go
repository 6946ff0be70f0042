package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a child process started from a binary, restartable with the same arguments.
type Proc struct {
	Bin  string   // path of the binary
	Args []string // arguments
	Env  []string // added to the parent's environment
	Log  string   // file that collects stdout and stderr (appended across restarts)
	// Strace, when set, runs the process under strace (if installed), which writes the process's
	// disk syncs to this file (see Syncs). Signals, CPU time and RSS are then the traced
	// process's, not strace's.
	Strace string

	cmd   *exec.Cmd
	log   *os.File
	child int // pid of the traced process under strace
}

// Start starts the process.
func (p *Proc) Start() error {
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", filepath.Base(p.Bin), err)
	}
	bin, args := p.Bin, p.Args
	traced := false
	if p.Strace != "" {
		if strace, err := exec.LookPath("strace"); err == nil {
			// seccomp-bpf: only the traced calls stop the process, the rest run at full speed.
			bin, args = strace, append([]string{"-f", "-qq", "--seccomp-bpf", "-e", "trace=fsync,fdatasync,openat", "-o", p.Strace, p.Bin}, p.Args...)
			traced = true
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", filepath.Base(p.Bin), err)
	}
	p.cmd, p.log, p.child = cmd, logf, 0
	if traced {
		if p.child, err = tracedChild(cmd.Process.Pid, p.Strace); err != nil {
			_ = cmd.Process.Kill()
			p.wait()
			return fmt.Errorf("start %s under strace: %w", filepath.Base(p.Bin), err)
		}
	}
	return nil
}

// tracedChild waits for the process strace (pid) starts and for strace's output file (which it
// may create only after starting the process), and returns the process's pid.
func tracedChild(pid int, out string) (int, error) {
	path := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		f := strings.Fields(string(b))
		if _, err := os.Stat(out); err != nil || len(f) == 0 {
			continue
		}
		return strconv.Atoi(f[0])
	}
	return 0, fmt.Errorf("strace %d: no traced process or no %s after 10s", pid, out)
}

// Pid is the process id while running, else 0.
func (p *Proc) Pid() int {
	switch {
	case p.cmd == nil:
		return 0
	case p.child != 0:
		return p.child
	}
	return p.cmd.Process.Pid
}

// Kill sends SIGKILL, so no shutdown code runs, and waits for the exit.
func (p *Proc) Kill() {
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(p.Pid(), syscall.SIGKILL)
	p.wait()
}

// Stop sends SIGTERM and waits up to timeout before killing.
func (p *Proc) Stop(timeout time.Duration) {
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(p.Pid(), syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		_ = syscall.Kill(p.Pid(), syscall.SIGKILL)
		<-done
	}
	p.cmd = nil
	p.log.Close()
}

func (p *Proc) wait() {
	_ = p.cmd.Wait()
	p.cmd = nil
	p.log.Close()
}

// PeakRSS is the process's peak resident set size in bytes (VmHWM), read from /proc.
func (p *Proc) PeakRSS() (int64, error) {
	if p.cmd == nil {
		return 0, fmt.Errorf("%s is not running", filepath.Base(p.Bin))
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.Pid())
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, 100 on every Linux ABI Go runs on.
const userHZ = 100

// CPUTime is the CPU time the process has used so far, user and system, all threads (utime and
// stime of /proc/<pid>/stat, in 10 ms ticks).
func (p *Proc) CPUTime() (time.Duration, error) {
	if p.cmd == nil {
		return 0, fmt.Errorf("%s is not running", filepath.Base(p.Bin))
	}
	pid := p.Pid()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat: %w", err)
	}
	// The command name, field 2, is in parentheses and may hold spaces; fields 14 and 15 follow it.
	_, rest, ok := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Addr is "127.0.0.1:<port>".
func Addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// WaitHTTP polls url until it answers want or ctx ends.
func WaitHTTP(ctx context.Context, url string, want int) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", url, err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %d: %w", url, want, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitTCP polls addr until it accepts a connection or ctx ends.
func WaitTCP(ctx context.Context, addr string) error {
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not accepting connections: %w", addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Build compiles the packages into dir with the release flags (static, trimmed).
func Build(ctx context.Context, dir string, pkgs ...string) error {
	args := append([]string{"build", "-trimpath", "-ldflags", "-s -w", "-o", dir + "/"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// LogTail is the last n lines of the process's log, leaving out lines that hold any of skip: what
// a failure report shows of it.
func (p *Proc) LogTail(n int, skip ...string) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	lines := slices.DeleteFunc(strings.Split(strings.TrimRight(string(b), "\n"), "\n"), func(l string) bool {
		return slices.ContainsFunc(skip, func(s string) bool { return strings.Contains(l, s) })
	})
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
