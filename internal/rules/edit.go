package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// AuthorizationSpec is an authorization to add to a rules file, as an operator types it.
type AuthorizationSpec struct {
	TBSSHA256  string
	SPKISHA256 string
	Names      []string
	Note       string
}

// AddAuthorization appends spec to the authorizations of the rules file at path (created when it
// does not exist) and reports whether it was added; an identical authorization already present
// leaves the file untouched. The file must be valid before and after. The edit goes through
// yaml.v3's node tree, so comments are kept, though indentation and quoting are normalised. The
// new content is written to a temporary file in the same directory and renamed over the old one,
// so a reader (Store.Watch) sees the old or the new file, never half of one.
func AddAuthorization(path string, spec AuthorizationSpec) (added bool, err error) {
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	data, err := os.ReadFile(path)
	mode := fs.FileMode(0o644)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return false, fmt.Errorf("rules file: %w", err)
	default:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	current, err := Parse(data)
	if err != nil {
		return false, fmt.Errorf("rules file %s is invalid, fix it first: %w", path, err)
	}
	item := authorizationNode(spec)
	single, err := encode(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		str("authorizations"), {Kind: yaml.SequenceNode, Content: []*yaml.Node{item}},
	}})
	if err != nil {
		return false, err
	}
	probe, err := Parse(single)
	if err != nil {
		return false, fmt.Errorf("authorization: %w", err)
	}
	if slices.ContainsFunc(current.Authorizations, func(a Authorization) bool { return sameAuthorization(a, probe.Authorizations[0]) }) {
		return false, nil
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return false, fmt.Errorf("rules file %s: %w", path, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		doc.Content = []*yaml.Node{{Kind: yaml.MappingNode}}
	}
	root := doc.Content[0]
	seq := (*yaml.Node)(nil)
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "authorizations" {
			if v := root.Content[i+1]; isNull(v) {
				root.Content[i+1] = &yaml.Node{Kind: yaml.SequenceNode, HeadComment: v.HeadComment, LineComment: v.LineComment}
			}
			seq = root.Content[i+1]
		}
	}
	if seq == nil {
		seq = &yaml.Node{Kind: yaml.SequenceNode}
		root.Content = append(root.Content, str("authorizations"), seq)
	}
	seq.Style = 0 // block style, one authorization per item
	seq.Content = append(seq.Content, item)

	out, err := encode(&doc)
	if err != nil {
		return false, err
	}
	if _, err := Parse(out); err != nil {
		return false, fmt.Errorf("rules file %s after the edit: %w", path, err)
	}
	if err := writeAtomic(path, out, mode); err != nil {
		return false, err
	}
	return true, nil
}

func authorizationNode(spec AuthorizationSpec) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if spec.TBSSHA256 != "" {
		n.Content = append(n.Content, str("tbsSha256"), str(strings.ToLower(spec.TBSSHA256)))
	}
	if spec.SPKISHA256 != "" {
		n.Content = append(n.Content, str("spkiSha256"), str(strings.ToLower(spec.SPKISHA256)))
	}
	if len(spec.Names) > 0 {
		names := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, name := range spec.Names {
			names.Content = append(names.Content, str(strings.TrimSpace(name)))
		}
		n.Content = append(n.Content, str("names"), names)
	}
	if spec.Note != "" {
		n.Content = append(n.Content, str("note"), str(spec.Note))
	}
	return n
}

func sameAuthorization(a, b Authorization) bool {
	key := func(ws []WatchItem) []string {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = w.String()
		}
		slices.Sort(out)
		return out
	}
	return a.TBSSHA256 == b.TBSSHA256 && a.SPKISHA256 == b.SPKISHA256 && slices.Equal(key(a.Names), key(b.Names))
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func encode(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode rules file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode rules file: %w", err)
	}
	return buf.Bytes(), nil
}

func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write rules file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write rules file: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write rules file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write rules file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write rules file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write rules file: %w", err)
	}
	return nil
}
