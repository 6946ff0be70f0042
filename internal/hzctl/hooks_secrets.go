package hzctl

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hzhook/hzhook/internal/backfill"
	"github.com/hzhook/hzhook/internal/verify"
)

// secretsFile is the receiver's hooks file (DESIGN.md): hooks with org, id and secrets.
type secretsFile struct {
	Hooks []verify.Hook `yaml:"hooks"`
}

// readSecretsFile reads path; a missing file is an empty list. Comments are not kept on rewrite.
func readSecretsFile(path string) (secretsFile, error) {
	var f secretsFile
	if path == "" {
		return f, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("secrets file: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("secrets file %s: not the hooks YAML/JSON format", path)
	}
	return f, nil
}

// addSecret adds secret to hook org/id, creating the entry if needed; the other hooks and the
// hook's other secrets stay.
func (f *secretsFile) addSecret(org, id, secret string) {
	for i, h := range f.Hooks {
		if h.Org == org && h.ID == id {
			if !slices.Contains(h.Secrets, secret) {
				f.Hooks[i].Secrets = append(f.Hooks[i].Secrets, secret)
			}
			return
		}
	}
	f.Hooks = append(f.Hooks, verify.Hook{Org: org, ID: id, Secrets: []string{secret}})
}

func (f secretsFile) marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode secrets file: %w", err)
	}
	return b.Bytes(), nil
}

// write replaces path atomically (mode 0600), after checking the receiver would accept it.
func (f secretsFile) write(path string) error {
	if _, err := verify.NewStore(f.Hooks); err != nil {
		return fmt.Errorf("secrets file %s: %w", path, err)
	}
	data, err := f.marshal()
	if err != nil {
		return err
	}
	return backfill.WriteFileAtomic(path, data, 0o600)
}

// manifest is a Kubernetes Secret holding the file under the key hooks.yaml, to mount at the
// receiver's --secrets-file.
func (f secretsFile) manifest(name, namespace string) ([]byte, error) {
	data, err := f.marshal()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n")
	if namespace != "" {
		b.WriteString("  namespace: " + namespace + "\n")
	}
	b.WriteString("type: Opaque\nstringData:\n  hooks.yaml: |\n")
	for _, line := range strings.SplitAfter(strings.TrimRight(string(data), "\n"), "\n") {
		b.WriteString("    " + line)
	}
	b.WriteString("\n")
	return []byte(b.String()), nil
}
