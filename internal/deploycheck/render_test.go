package deploycheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// object is one rendered manifest object, decoded into its typed value (a pointer).
type object struct {
	Kind string
	Name string
	Obj  any
}

// manifest is the rendered output of one overlay.
type manifest struct {
	overlay string
	objects []object
}

// repoRoot is the directory holding go.mod, found upwards from the test's working directory.
func repoRoot(t tb) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "go.mod not found above the test directory")
		dir = parent
	}
}

// kubectl returns the path of kubectl, failing under CI=true and skipping elsewhere when it is missing.
func kubectl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl is required under CI=true to render deploy/k8s: %v", err)
		}
		t.Skipf("kubectl not on PATH, deploy/k8s not checked: %v", err)
	}
	return path
}

// renderYAML runs `kubectl kustomize` on an overlay.
func renderYAML(t *testing.T, overlay string) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy", "k8s", "overlays", overlay)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kubectl(t), "kustomize", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "kubectl kustomize %s: %s", dir, stderr.String())
	return stdout.String()
}

// parse decodes every object of a rendered overlay strictly.
func parse(t *testing.T, overlay, rendered string) *manifest {
	t.Helper()
	m := &manifest{overlay: overlay}
	for i, doc := range splitDocuments(rendered) {
		obj, err := decode([]byte(doc))
		require.NoError(t, err, "overlay %s, object %d:\n%s", overlay, i, doc)
		m.objects = append(m.objects, obj)
	}
	require.NotEmpty(t, m.objects, "overlay %s renders no objects", overlay)
	return m
}

// splitDocuments splits a YAML stream at its "---" separator lines, dropping empty documents.
func splitDocuments(s string) []string {
	var docs []string
	var cur strings.Builder
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" {
			docs = append(docs, cur.String())
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimRight(line, "\r\n") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return docs
}

// decode converts one YAML document into the Go type registered for its apiVersion and kind,
// refusing duplicate keys, unknown fields and trailing data.
func decode(doc []byte) (object, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return object{}, fmt.Errorf("yaml: %w", err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return object{}, fmt.Errorf("read apiVersion and kind: %w", err)
	}
	newObj, ok := kinds()[head.APIVersion+"/"+head.Kind]
	if !ok {
		return object{}, fmt.Errorf("%s %s: no Go type registered for this apiVersion and kind (add it to kinds)", head.APIVersion, head.Kind)
	}
	obj := newObj()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return object{}, fmt.Errorf("%s %s: %w", head.Kind, head.Metadata.Name, err)
	}
	if dec.More() {
		return object{}, fmt.Errorf("%s %s: trailing data after the object", head.Kind, head.Metadata.Name)
	}
	return object{Kind: head.Kind, Name: head.Metadata.Name, Obj: obj}, nil
}

// each returns the objects of one Go type, in rendering order.
func each[T any](m *manifest) []T {
	var out []T
	for _, o := range m.objects {
		if v, ok := o.Obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}
