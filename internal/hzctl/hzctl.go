package hzctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/hzhook/hzhook/internal/config"
)

// Env reads an environment variable (os.LookupEnv in main).
type Env func(string) (string, bool)

// IO is where a command reads and writes.
type IO struct {
	Out io.Writer
	Err io.Writer
	Env Env
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, io IO) error
}

func commands() map[string]command {
	return map[string]command{
		"send":      {"sign and send one event to a receiver, exactly as Hardenize does", runSend},
		"authorize": {"pre-authorize a certificate (--tbs) or a key for names (--spki --names) in the rules file", runAuthorize},
		"hooks":     {"manage Hardenize event hooks: list, setup, rotate, test, enable, disable, delete", runHooks},
		"backfill":  {"pull missed events from the Hardenize API into HZ_EVENTS (resumable)", runBackfill},
		"load":      {"load-test a receiver with freshly signed events; prints throughput and latency", runLoad},
		"certs":     {"the certificate inventory: list, show SHA256, report; import from the Hardenize API (resumable)", runCerts},
		"dlq":       {"dead letters: list, show SEQ, redrive or purge (one SEQ or by filter)", runDLQ},
	}
}

// errUsage marks an error whose message already said what to do; no usage is printed after it.
var errUsage = errors.New("usage")

// Main runs the command named by args[0] and returns the process exit code.
func Main(ctx context.Context, args []string, io IO) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.Out, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(io.Err, "hzctl: unknown command %q\n\n", args[0])
		usage(io.Err, cmds)
		return 2
	}
	if err := cmd.run(ctx, args[1:], io); err != nil {
		if config.IsHelp(err) {
			return 0
		}
		fmt.Fprintf(io.Err, "hzctl %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "hzctl: operator tool for hzhook\n\nUsage: hzctl <command> [flags]   (hzctl <command> --help for its flags)\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

// parse parses a command's flags, printing its usage on errors and --help.
func parse(set *config.Set, args []string, io IO) error {
	set.FlagSet().SetOutput(io.Err)
	return set.Parse(args)
}
