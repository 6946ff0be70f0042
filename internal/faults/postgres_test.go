package faults

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// postgres is a PostgreSQL cluster of the test's own, so that it can be stopped and started
// without disturbing anyone else's database. As root it runs as the postgres (or nobody) account,
// since PostgreSQL refuses to run as root.
type postgres struct {
	t         *testing.T
	bin, data string
	port      int
	runAs     string // account for runuser, empty when not root
	socketDir string
	logFile   string
	fsync     bool // fsync=on: a commit survives a crash of the server (and of the machine)
}

// startPostgres initdbs and starts a cluster on a free loopback port, with fsync off (faster; the
// scenarios that kill PostgreSQL use startDurablePostgres). Without PostgreSQL binaries the test is
// skipped, or fails under CI=true.
func startPostgres(t *testing.T) *postgres { return newPostgres(t, false) }

// startDurablePostgres is startPostgres with fsync=on, as in production.
func startDurablePostgres(t *testing.T) *postgres { return newPostgres(t, true) }

func newPostgres(t *testing.T, fsync bool) *postgres {
	t.Helper()
	bin := pgBin()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL (initdb, pg_ctl) not found: required under CI=true")
		}
		t.Skip("PostgreSQL (initdb, pg_ctl) not found; install it to run this scenario")
	}
	// Not t.TempDir: its parents are private to root, and the server runs as another account.
	dir, err := os.MkdirTemp("", "hzfaults-pg")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	p := &postgres{t: t, bin: bin, data: filepath.Join(dir, "data"), port: freePort(t), socketDir: dir, logFile: filepath.Join(dir, "pg.log"), fsync: fsync}
	require.NoError(t, os.Mkdir(p.data, 0o700))
	if os.Geteuid() == 0 {
		p.runAs = "postgres"
		if _, err := user.Lookup("postgres"); err != nil {
			p.runAs = "nobody"
		}
		u, err := user.Lookup(p.runAs)
		require.NoError(t, err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(p.data, uid, gid))
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	t.Cleanup(func() {
		_ = p.ctl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	require.NoError(t, p.run("initdb", "-D", p.data, "-U", "hzhook", "-A", "trust", "-E", "UTF8", "--locale=C"))
	require.NoError(t, p.ctl("start"))
	return p
}

// URL is the connection URL of the cluster's postgres database.
func (p *postgres) URL() string {
	return fmt.Sprintf("postgres://hzhook@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Stop shuts the server down fast: sessions are cut, as in a crash-free restart.
func (p *postgres) Stop() { require.NoError(p.t, p.ctl("stop", "-m", "fast")) }

// Start starts the stopped server again on the same port. After a kill, the backends of the dead
// postmaster may hold its shared memory for a moment: the start is retried until they are gone.
func (p *postgres) Start() {
	var err error
	for range 30 {
		if err = p.ctl("start"); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	require.NoError(p.t, err)
}

// Kill sends SIGKILL to the postmaster, as a crash would end it; its backends exit when they see
// it gone. Start recovers from the write-ahead log.
func (p *postgres) Kill() {
	p.t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	require.NoError(p.t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	require.NoError(p.t, err)
	require.NoError(p.t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(p.t, func() bool { return syscall.Kill(pid, 0) != nil }, 30*time.Second, 50*time.Millisecond, "the postmaster is gone")
}

func (p *postgres) ctl(action string, args ...string) error {
	full := []string{"-D", p.data, "-l", p.logFile, "-w", "-t", "60"}
	if action == "start" {
		fsync := "off"
		if p.fsync {
			fsync = "on"
		}
		full = append(full, "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=%s -c max_connections=200", p.port, p.socketDir, fsync))
	}
	return p.run("pg_ctl", append(append(full, args...), action)...)
}

func (p *postgres) run(name string, args ...string) error {
	bin := filepath.Join(p.bin, name)
	cmd := exec.Command(bin, args...)
	if p.runAs != "" {
		cmd = exec.Command(runuser(), append([]string{"-u", p.runAs, "--", bin}, args...)...)
	}
	cmd.Dir = p.socketDir
	if out, err := cmd.CombinedOutput(); err != nil {
		logTail, _ := os.ReadFile(p.logFile)
		return fmt.Errorf("%s: %w\n%s\n%s", name, err, out, logTail)
	}
	return nil
}

// pgBin is the directory holding initdb and pg_ctl, or "".
func pgBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range append(dirs, "/usr/local/bin", "/usr/bin") {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// runuser finds runuser(1), which lives in /usr/sbin: not on every PATH a CI job gets.
func runuser() string {
	if path, err := exec.LookPath("runuser"); err == nil {
		return path
	}
	return "/usr/sbin/runuser"
}
