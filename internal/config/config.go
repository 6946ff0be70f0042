package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Setting describes one configurable value.
type Setting struct {
	Flag    string // without dashes; empty for a setting read only from the environment
	Env     string // empty when the setting has no environment variable
	Default string
	Usage   string
	Secret  bool // value is masked when the effective configuration is logged

	value flag.Value
}

// Set is a flag set whose flags may also be set through environment variables.
type Set struct {
	fs       *flag.FlagSet
	settings []Setting
	lookup   func(string) (string, bool)
}

// NewSet returns an empty Set for the program name. lookup reads the environment (os.LookupEnv in
// main, a map in tests).
func NewSet(name string, lookup func(string) (string, bool)) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	s := &Set{fs: fs, lookup: lookup}
	fs.Usage = func() { s.PrintUsage(fs.Output()) }
	return s
}

// FlagSet exposes the underlying flag set (for sub-command parsing and output redirection).
func (s *Set) FlagSet() *flag.FlagSet { return s.fs }

// Settings lists every setting in the order it was defined.
func (s *Set) Settings() []Setting { return append([]Setting(nil), s.settings...) }

func (s *Set) add(v flag.Value, name, env, usage string, secret bool) {
	if name != "" {
		s.fs.Var(v, name, usage)
	}
	s.settings = append(s.settings, Setting{Flag: name, Env: env, Default: v.String(), Usage: usage, Secret: secret, value: v})
}

// String defines a string setting.
func (s *Set) String(p *string, name, env, def, usage string) {
	*p = def
	s.add((*stringValue)(p), name, env, usage, false)
}

// SecretString defines a string setting whose value is masked in logs.
func (s *Set) SecretString(p *string, name, env, def, usage string) {
	*p = def
	s.add((*stringValue)(p), name, env, usage, true)
}

// SecretEnv defines a secret read only from the environment variable env: a flag would leave it in
// shell history and in the process list.
func (s *Set) SecretEnv(p *string, env, usage string) {
	*p = ""
	s.add((*stringValue)(p), "", env, usage, true)
}

// Bool defines a boolean setting.
func (s *Set) Bool(p *bool, name, env string, def bool, usage string) {
	*p = def
	s.add((*boolValue)(p), name, env, usage, false)
}

// Int defines an integer setting.
func (s *Set) Int(p *int, name, env string, def int, usage string) {
	*p = def
	s.add((*intValue)(p), name, env, usage, false)
}

// Int64 defines a 64-bit integer setting.
func (s *Set) Int64(p *int64, name, env string, def int64, usage string) {
	*p = def
	s.add((*int64Value)(p), name, env, usage, false)
}

// Duration defines a duration setting ("5m", "250ms").
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	*p = def
	s.add((*durationValue)(p), name, env, usage, false)
}

// DurationList defines a comma-separated list of durations ("1s,5s,30s"); each must be non-negative
// and the list must not be empty.
func (s *Set) DurationList(p *[]time.Duration, name, env string, def []time.Duration, usage string) {
	*p = append([]time.Duration(nil), def...)
	s.add((*durationListValue)(p), name, env, usage, false)
}

// List defines a comma-separated list setting.
func (s *Set) List(p *[]string, name, env string, def []string, usage string) {
	*p = append([]string(nil), def...)
	s.add((*listValue)(p), name, env, usage, false)
}

// Parse reads args, then fills every setting not given as a flag from its environment variable.
// It returns flag.ErrHelp when -h or --help was asked for.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, st := range s.settings {
		if st.Env == "" || given[st.Flag] {
			continue
		}
		v, ok := s.lookup(st.Env)
		if !ok {
			continue
		}
		if err := st.value.Set(v); err != nil {
			return fmt.Errorf("environment variable %s: %w", st.Env, err)
		}
	}
	return nil
}

// Args returns the arguments left after the flags.
func (s *Set) Args() []string { return s.fs.Args() }

// PrintUsage writes every setting with its flag, variable, default and meaning.
func (s *Set) PrintUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage of %s:\n", s.fs.Name())
	for _, st := range s.settings {
		line := "  --" + st.Flag
		switch {
		case st.Flag == "":
			line = "  env " + st.Env + " (environment only)"
		case st.Env != "":
			line += " (env " + st.Env + ")"
		}
		fmt.Fprintln(w, line)
		fmt.Fprintf(w, "      %s", st.Usage)
		if st.Default != "" && st.Default != "false" {
			fmt.Fprintf(w, " (default %q)", st.Default)
		}
		fmt.Fprintln(w)
	}
}

// Effective returns flag name → current value for logging, with secret values masked.
func (s *Set) Effective() map[string]string {
	out := make(map[string]string, len(s.settings))
	for _, st := range s.settings {
		v := st.value.String()
		if st.Secret && v != "" {
			v = "*****"
		}
		key := st.Flag
		if key == "" {
			key = st.Env
		}
		out[key] = v
	}
	return out
}

// EnvNames returns the sorted environment variable names of all settings.
func (s *Set) EnvNames() []string {
	var names []string
	for _, st := range s.settings {
		if st.Env != "" {
			names = append(names, st.Env)
		}
	}
	sort.Strings(names)
	return names
}

// IsHelp reports whether err is the request for --help.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }

type boolValue bool

func (v *boolValue) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes", "on":
		*v = true
	case "0", "f", "false", "no", "off", "":
		*v = false
	default:
		return fmt.Errorf("%q is not a boolean (use true or false)", s)
	}
	return nil
}
func (v *boolValue) String() string   { return fmt.Sprint(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

type intValue int

// Set parses a decimal integer, strictly: "5x", "0x10" and "1e3" are refused, not read as 5, 16 or 1.
func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("%q is not a decimal integer", s)
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }

type int64Value int64

func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a decimal integer", s)
	}
	*v = int64Value(n)
	return nil
}
func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration (examples: 30s, 5m, 1h)", s)
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }

type listValue []string

func (v *listValue) Set(s string) error {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	*v = out
	return nil
}
func (v *listValue) String() string { return strings.Join(*v, ",") }

type durationListValue []time.Duration

func (v *durationListValue) Set(s string) error {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil {
			return fmt.Errorf("%q is not a duration (examples: 1s, 5m, 1h)", part)
		}
		if d < 0 {
			return fmt.Errorf("%q must not be negative", part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return errors.New("name at least one duration, e.g. 1s,5s,30s")
	}
	*v = out
	return nil
}

func (v *durationListValue) String() string {
	parts := make([]string, len(*v))
	for i, d := range *v {
		parts[i] = shortDuration(d)
	}
	return strings.Join(parts, ",")
}

// shortDuration writes 2m for 2m0s and 1h for 1h0m0s, as people write them.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
