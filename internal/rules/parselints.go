package rules

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/hzhook/hzhook/internal/lint"
)

// parseLints reads the lints section into c, which holds the defaults: "lints: false", or a
// mapping whose keys replace the default of what they name.
//
//	lints:
//	  enabled: true
//	  sources: [CABF_BR, RFC5280, Mozilla]   # every lint of these zlint sources runs
//	  include: [e_rsa_fermat_factorization]  # and these, whatever their source
//	  exclude: [w_subject_common_name_included]
//	  alert: {statuses: [error, fatal], sources: [CABF_BR, RFC5280], include: [], exclude: [], precerts: false}
func parseLints(n *yaml.Node, c *lint.Config) error {
	const where = "lints"
	if n.Kind == yaml.ScalarNode {
		on, err := boolean(n, where)
		c.Enabled = on
		return err
	}
	err := eachKey(n, where, map[string]func(*yaml.Node) error{
		"enabled": func(v *yaml.Node) (err error) { c.Enabled, err = boolean(v, where+".enabled"); return err },
		"sources": func(v *yaml.Node) (err error) { c.Sources, err = lintSources(v, where+".sources"); return err },
		"include": func(v *yaml.Node) (err error) { c.Include, err = lintNames(v, where+".include"); return err },
		"exclude": func(v *yaml.Node) (err error) { c.Exclude, err = lintNames(v, where+".exclude"); return err },
		"alert":   func(v *yaml.Node) error { return parseLintAlert(v, &c.Alert) },
	})
	if err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return errAt(n, where, "%w", err)
	}
	return nil
}

func parseLintAlert(n *yaml.Node, a *lint.AlertPolicy) error {
	const where = "lints.alert"
	return eachKey(n, where, map[string]func(*yaml.Node) error{
		"statuses": func(v *yaml.Node) (err error) { a.Statuses, err = alertStatuses(v, where+".statuses"); return err },
		"sources":  func(v *yaml.Node) (err error) { a.Sources, err = lintSources(v, where+".sources"); return err },
		"include":  func(v *yaml.Node) (err error) { a.Include, err = lintNames(v, where+".include"); return err },
		"exclude":  func(v *yaml.Node) (err error) { a.Exclude, err = lintNames(v, where+".exclude"); return err },
		"precerts": func(v *yaml.Node) (err error) { a.Precerts, err = boolean(v, where+".precerts"); return err },
	})
}

// lintSources reads a list of zlint sources, in any case, into zlint's spelling.
func lintSources(n *yaml.Node, where string) ([]string, error) {
	return eachScalar(n, where, func(it *yaml.Node, w, s string) (string, error) {
		src, err := lint.CanonicalSource(s)
		if err != nil {
			return "", errAt(it, w, "%w", err)
		}
		return src, nil
	})
}

func lintNames(n *yaml.Node, where string) ([]string, error) {
	return eachScalar(n, where, func(it *yaml.Node, w, s string) (string, error) {
		if err := lint.KnownLint(s); err != nil {
			return "", errAt(it, w, "%w", err)
		}
		return s, nil
	})
}

func alertStatuses(n *yaml.Node, where string) ([]lint.Status, error) {
	names, err := eachScalar(n, where, func(it *yaml.Node, w, s string) (string, error) {
		st, err := lint.ParseStatus(s)
		if err == nil && !st.Finding() {
			err = fmt.Errorf("%q cannot alert: use fatal, error, warn or notice", s)
		}
		if err != nil {
			return "", errAt(it, w, "%w", err)
		}
		return string(st), nil
	})
	if err == nil && len(names) == 0 {
		return nil, errAt(n, where, "list at least one status, e.g. [error, fatal], or switch the lintError rule off")
	}
	out := make([]lint.Status, len(names))
	for i, s := range names {
		out[i] = lint.Status(s)
	}
	return out, err
}

// eachScalar reads a list of strings (or one string), checking each with check.
func eachScalar(n *yaml.Node, where string, check func(it *yaml.Node, where, s string) (string, error)) ([]string, error) {
	items := []*yaml.Node{n}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		var err error
		if items, err = sequence(n, where); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		w := where
		if n.Kind == yaml.SequenceNode {
			w = fmt.Sprintf("%s[%d]", where, i)
		}
		s, err := scalar(it, w)
		if err != nil {
			return nil, err
		}
		if s, err = check(it, w, s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
