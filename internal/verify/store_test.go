package verify

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/testenv"
)

const (
	watchInterval = 5 * time.Millisecond
	waitFor       = 5 * time.Second
	tick          = 5 * time.Millisecond
)

func newTestLogger() (*slog.Logger, *testenv.Buffer) {
	buf := &testenv.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// writeFile replaces path atomically, as config management tools do, so
// that Watch never sees a half-written file.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func hooksYAML(hooks ...Hook) string {
	var b strings.Builder
	b.WriteString("hooks:\n")
	for _, h := range hooks {
		secrets, _ := json.Marshal(h.Secrets)
		b.WriteString("  - org: " + h.Org + "\n    id: " + h.ID + "\n    secrets: " + string(secrets) + "\n")
	}
	return b.String()
}

// startWatch runs s.Watch until the test ends and waits for it to return.
func startWatch(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, watchInterval)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestLoadStore(t *testing.T) {
	t.Parallel()
	jsonIndented, err := json.MarshalIndent(map[string]any{"hooks": []Hook{
		{Org: testOrg, ID: testHookID, Secrets: []string{testSecret}},
		{Org: "demo", ID: "rotating", Secrets: []string{testSecret, testSecret2}},
	}}, "", "\t")
	require.NoError(t, err)

	tests := []struct {
		name, file, content string
	}{
		{name: "yaml", file: "secrets.yaml", content: `# rotation: any listed secret verifies
hooks:
  - org: parent.child
    id: bfc384726b6447a4b70a171de49e466f
    secrets: ["3685c06a966e4d0ea625d0b475719661"]
  - org: demo
    id: rotating
    secrets:
      - 3685c06a966e4d0ea625d0b475719661
      - "9b1f0e6a2c4d4e8f8a7b6c5d4e3f2a10"
`},
		{name: "json compact", file: "secrets.json", content: `{"hooks":[{"org":"parent.child","id":"bfc384726b6447a4b70a171de49e466f","secrets":["3685c06a966e4d0ea625d0b475719661"]},` +
			`{"org":"demo","id":"rotating","secrets":["3685c06a966e4d0ea625d0b475719661","9b1f0e6a2c4d4e8f8a7b6c5d4e3f2a10"]}]}`},
		{name: "json tab indented", file: "secrets.json", content: string(jsonIndented)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.file)
			writeFile(t, path, tc.content)

			s, err := LoadStore(path, nil, nil)
			require.NoError(t, err)
			assert.Equal(t, 2, s.Hooks())
			assert.Equal(t, []string{testSecret}, s.Lookup(testOrg, testHookID))
			assert.Equal(t, []string{testSecret, testSecret2}, s.Lookup("demo", "rotating"))
			assert.Nil(t, s.Lookup("parent", testHookID))
			assert.Nil(t, s.Lookup(testOrg, "rotating"))
			assert.Nil(t, s.Lookup("", ""))
		})
	}
}

func TestLoadStoreErrors(t *testing.T) {
	t.Parallel()
	const (
		short    = "0123456789abcde" // 15 characters
		nearMiss = "cannot unmarshal"
	)
	tests := []struct {
		name    string
		content string
		want    []string // substrings of the error
	}{
		{name: "empty org", content: "hooks:\n  - org: \"\"\n    id: abc\n    secrets: [" + testSecret + "]\n",
			want: []string{"hooks[0]", `id "abc"`, "org is empty"}},
		{name: "blank org", content: "hooks:\n  - org: \"  \"\n    id: abc\n    secrets: [" + testSecret + "]\n",
			want: []string{"hooks[0]", "org is empty"}},
		{name: "missing id", content: "hooks:\n  - org: demo\n    secrets: [" + testSecret + "]\n",
			want: []string{"hooks[0]", `org "demo"`, "id is empty"}},
		{name: "missing secrets", content: "hooks:\n  - org: demo\n    id: abc\n",
			want: []string{"hooks[0]", `org "demo", id "abc"`, "no secrets"}},
		{name: "empty secrets list", content: "hooks:\n  - org: demo\n    id: abc\n    secrets: []\n",
			want: []string{"hooks[0]", "no secrets"}},
		{name: "empty secret", content: "hooks:\n  - org: demo\n    id: abc\n    secrets: [" + testSecret + ", \"\"]\n",
			want: []string{"hooks[0]", "secrets[1] is empty"}},
		{name: "null secret", content: "hooks:\n  - org: demo\n    id: abc\n    secrets:\n      - " + testSecret + "\n      -\n",
			want: []string{"hooks[0]", "secrets[1] is empty"}},
		{name: "short secret", content: "hooks:\n  - org: demo\n    id: abc\n    secrets: [" + short + "]\n",
			want: []string{"hooks[0]", `org "demo", id "abc"`, "secrets[0] is shorter than 16 characters"}},
		{name: "duplicate org and id", content: hooksYAML(
			Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret}},
			Hook{Org: "demo", ID: "other", Secrets: []string{testSecret}},
			Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret2}},
		), want: []string{"hooks[2]", `org "demo", id "abc"`, "duplicate of hooks[0]"}},
		{name: "unknown top-level key", content: "hooks: []\nsecret: " + testSecret + "\n",
			want: []string{"field secret not found"}},
		{name: "unknown hook key", content: "hooks:\n  - org: demo\n    id: abc\n    secret: " + testSecret + "\n",
			want: []string{"field secret not found"}},
		{name: "secrets is a string", content: "hooks:\n  - org: demo\n    id: abc\n    secrets: " + testSecret + "\n",
			want: []string{"line 4", "secrets must be a list of strings"}},
		{name: "secret is a map", content: "hooks:\n  - org: demo\n    id: abc\n    secrets:\n      - " + testSecret + ": x\n",
			want: []string{"line 5", "each secret must be a string"}},
		{name: "no hooks", content: "hooks: []\n", want: []string{"no hooks"}},
		{name: "empty file", content: "", want: []string{"file is empty"}},
		{name: "two documents", content: hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret}}) + "---\nhooks: []\n",
			want: []string{"more than one yaml document"}},
		{name: "syntax error", content: "hooks:\n  - org: demo\n    secrets: [" + testSecret + "\n",
			want: []string{"parse"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "secrets.yaml")
			writeFile(t, path, tc.content)

			s, err := LoadStore(path, nil, nil)
			require.Error(t, err)
			assert.Nil(t, s)
			msg := err.Error()
			assert.Contains(t, msg, "secrets file "+path+": ")
			for _, want := range tc.want {
				assert.Contains(t, msg, want)
			}
			for _, secret := range []string{testSecret, testSecret2, short} {
				assert.NotContains(t, msg, secret)
				assert.NotContains(t, msg, secret[:7], "a prefix of a secret leaked")
			}
			assert.NotContains(t, msg, nearMiss, "yaml's own type errors quote values")
		})
	}
}

func TestLoadStoreMissingFile(t *testing.T) {
	t.Parallel()
	_, err := LoadStore(filepath.Join(t.TempDir(), "absent.yaml"), nil, nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestNewStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		hooks   []Hook
		wantErr string
	}{
		{name: "valid", hooks: []Hook{{Org: "demo", ID: "abc", Secrets: []string{testSecret}}}},
		{name: "nil", hooks: nil, wantErr: "secrets: no hooks"},
		{name: "empty id", hooks: []Hook{{Org: "demo", ID: "abc", Secrets: []string{testSecret}}, {Org: "demo", Secrets: []string{testSecret}}},
			wantErr: `secrets: hooks[1] (org "demo", id ""): id is empty`},
		{name: "nul in org", hooks: []Hook{{Org: "a\x00b", ID: "abc", Secrets: []string{testSecret}}}, wantErr: "NUL"},
		{name: "short secret", hooks: []Hook{{Org: "demo", ID: "abc", Secrets: []string{testSecret, "short-secret"}}},
			wantErr: "secrets[1] is shorter than 16 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewStore(tc.hooks)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				assert.NotContains(t, err.Error(), "short-secret")
				assert.NotContains(t, err.Error(), testSecret)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(tc.hooks), s.Hooks())
		})
	}
}

func TestStoreIsImmutable(t *testing.T) {
	t.Parallel()
	hooks := []Hook{{Org: "demo", ID: "abc", Secrets: []string{testSecret}}}
	s, err := NewStore(hooks)
	require.NoError(t, err)

	hooks[0].Secrets[0] = "changed by the caller"
	got := s.Lookup("demo", "abc")
	got[0] = "changed by a consumer"
	assert.Equal(t, []string{testSecret}, s.Lookup("demo", "abc"))
}

func TestStaticStoreHasNoFile(t *testing.T) {
	t.Parallel()
	s, err := NewStore([]Hook{{Org: "demo", ID: "abc", Secrets: []string{testSecret}}})
	require.NoError(t, err)
	require.ErrorContains(t, s.Reload(), "not loaded from a file")

	returned := make(chan struct{})
	go func() {
		defer close(returned)
		s.Watch(t.Context(), time.Millisecond)
	}()
	select {
	case <-returned:
	case <-time.After(waitFor):
		t.Fatal("Watch on a static store did not return")
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secrets.yaml")
	writeFile(t, path, hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret}}))
	s, err := LoadStore(path, nil, nil)
	require.NoError(t, err)

	writeFile(t, path, hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret2}}))
	require.NoError(t, s.Reload())
	assert.Equal(t, []string{testSecret2}, s.Lookup("demo", "abc"))

	writeFile(t, path, "hooks: [")
	require.Error(t, s.Reload())
	assert.Equal(t, []string{testSecret2}, s.Lookup("demo", "abc"), "a failed reload keeps the previous secrets")
}

func TestWatch(t *testing.T) {
	t.Parallel()

	t.Run("reloads a changed file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "secrets.yaml")
		writeFile(t, path, hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret}}))
		log, logs := newTestLogger()
		s, err := LoadStore(path, log, nil)
		require.NoError(t, err)
		startWatch(t, s)

		writeFile(t, path, hooksYAML(
			Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret, testSecret2}},
			Hook{Org: "demo", ID: "new", Secrets: []string{testSecret2}},
		))
		require.Eventually(t, func() bool { return s.Hooks() == 2 }, waitFor, tick)
		assert.Equal(t, []string{testSecret, testSecret2}, s.Lookup("demo", "abc"))
		assert.Equal(t, []string{testSecret2}, s.Lookup("demo", "new"))
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "msg=\"secrets reloaded\"") }, waitFor, tick)
		assert.Contains(t, logs.String(), "level=INFO")
		assert.Contains(t, logs.String(), "hooks=2")
		assert.NotContains(t, logs.String(), testSecret)
		assert.NotContains(t, logs.String(), testSecret2)
	})

	t.Run("broken rewrite keeps old secrets", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "secrets.yaml")
		writeFile(t, path, hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret}}))
		log, logs := newTestLogger()
		reg := prometheus.NewRegistry()
		s, err := LoadStore(path, log, reg)
		require.NoError(t, err)
		startWatch(t, s)

		const tooShort = "0123456789short"
		writeFile(t, path, hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret2, tooShort}}))
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "secrets file invalid") }, waitFor, tick)
		out := logs.String()
		assert.Contains(t, out, "level=WARN")
		assert.Contains(t, out, "secrets[1] is shorter than 16 characters")
		assert.Equal(t, []string{testSecret}, s.Lookup("demo", "abc"))
		for _, secret := range []string{testSecret, testSecret2, tooShort} {
			assert.NotContains(t, out, secret)
		}

		// The same broken content is reported once, not on every poll.
		require.Eventually(t, func() bool { return checks(t, reg, "invalid") >= 5 }, waitFor, tick)
		assert.Equal(t, 1, strings.Count(logs.String(), "secrets file invalid"))

		// A fixed file is picked up again.
		writeFile(t, path, hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret2}}))
		require.Eventually(t, func() bool {
			return assert.ObjectsAreEqual([]string{testSecret2}, s.Lookup("demo", "abc"))
		}, waitFor, tick)
	})

	t.Run("missing file keeps old secrets", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "secrets.yaml")
		writeFile(t, path, hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret}}))
		log, logs := newTestLogger()
		reg := prometheus.NewRegistry()
		s, err := LoadStore(path, log, reg)
		require.NoError(t, err)
		startWatch(t, s)

		require.NoError(t, os.Remove(path))
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "secrets file unreadable") }, waitFor, tick)
		assert.Equal(t, []string{testSecret}, s.Lookup("demo", "abc"))
		require.Eventually(t, func() bool { return checks(t, reg, "unreadable") >= 5 }, waitFor, tick)
		assert.Equal(t, 1, strings.Count(logs.String(), "secrets file unreadable"))
	})

	t.Run("kubernetes symlink swap", func(t *testing.T) {
		t.Parallel()
		// Kubernetes mounts a Secret as dir/key -> ..data/key, ..data -> ..<timestamp>/,
		// and updates it by renaming a new ..data symlink over the old one.
		dir := t.TempDir()
		first := filepath.Join(dir, "..2026_01_01_00_00_00.000000001")
		require.NoError(t, os.Mkdir(first, 0o700))
		writeFile(t, filepath.Join(first, "secrets.yaml"), hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret}}))
		require.NoError(t, os.Symlink(filepath.Base(first), filepath.Join(dir, "..data")))
		path := filepath.Join(dir, "secrets.yaml")
		require.NoError(t, os.Symlink(filepath.Join("..data", "secrets.yaml"), path))

		s, err := LoadStore(path, nil, nil)
		require.NoError(t, err)
		require.Equal(t, []string{testSecret}, s.Lookup("demo", "abc"))
		startWatch(t, s)

		second := filepath.Join(dir, "..2026_01_02_00_00_00.000000002")
		require.NoError(t, os.Mkdir(second, 0o700))
		writeFile(t, filepath.Join(second, "secrets.yaml"), hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret2}}))
		require.NoError(t, os.Symlink(filepath.Base(second), filepath.Join(dir, "..data_tmp")))
		require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		require.NoError(t, os.RemoveAll(first))

		require.Eventually(t, func() bool {
			return assert.ObjectsAreEqual([]string{testSecret2}, s.Lookup("demo", "abc"))
		}, waitFor, tick)
	})
}

func TestLookupConcurrentWithReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secrets.yaml")
	contents := []string{
		hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret}}),
		hooksYAML(Hook{Org: "demo", ID: "abc", Secrets: []string{testSecret2}}),
	}
	writeFile(t, path, contents[0])
	s, err := LoadStore(path, nil, nil)
	require.NoError(t, err)

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			// Not writeFile: require must not be called off the test goroutine.
			tmp := path + ".tmp"
			assert.NoError(t, os.WriteFile(tmp, []byte(contents[i%2]), 0o600))
			assert.NoError(t, os.Rename(tmp, path))
			assert.NoError(t, s.Reload())
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 500 {
				got := s.Lookup("demo", "abc")
				assert.Len(t, got, 1)
			}
		})
	}
	wg.Wait()
}

// checks is the value of hz_config_checks_total{file="secrets",outcome=outcome} on reg.
func checks(t *testing.T, reg prometheus.Gatherer, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "hz_config_checks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
