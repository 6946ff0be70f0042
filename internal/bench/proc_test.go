package bench

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcCPUTimeCountsABusyProcess(t *testing.T) {
	p := &Proc{Bin: "/bin/sh", Args: []string{"-c", "while :; do :; done"}, Log: filepath.Join(t.TempDir(), "sh.log")}
	require.NoError(t, p.Start())
	defer p.Kill()
	require.Eventually(t, func() bool {
		cpu, err := p.CPUTime()
		require.NoError(t, err)
		return cpu > 0
	}, 20*time.Second, 50*time.Millisecond, "a busy loop shows CPU time")

	p.Kill()
	_, err := p.CPUTime()
	require.Error(t, err, "not running")
}

func TestProcSyncsCountsDiskSyncsUnderStrace(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace not installed")
	}
	dir := t.TempDir()
	// dd: one file opened with O_DSYNC and an fdatasync, one opened with O_SYNC, one fsync.
	script := "dd if=/dev/zero of=" + dir + "/a bs=1k count=3 oflag=dsync conv=fdatasync status=none; " +
		"dd if=/dev/zero of=" + dir + "/b bs=1k count=1 oflag=sync status=none; " +
		"dd if=/dev/zero of=" + dir + "/c bs=1k count=1 conv=fsync status=none"
	p := &Proc{Bin: "/bin/sh", Args: []string{"-c", script + "; exec sleep 30"}, Log: filepath.Join(dir, "sh.log"), Strace: filepath.Join(dir, "strace.out")}
	require.NoError(t, p.Start())
	defer p.Kill()
	require.NotEqual(t, 0, p.child, "the traced shell, not strace")
	var n int
	require.Eventually(t, func() bool {
		var err error
		n, err = p.Syncs()
		require.NoError(t, err)
		return n >= 4
	}, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, 4, n)
	p.Kill()
	assert.Zero(t, p.Pid(), "killed through strace")
}
