package hzctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/hardenize"
)

// Environment variables holding the Hardenize API credentials. They are never flags, so that
// they stay out of shell history and process lists.
const (
	envAPIUser     = "HZ_API_USER"
	envAPIPassword = "HZ_API_PASSWORD"
)

// apiFlags are the settings every command talking to the Hardenize API shares.
type apiFlags struct {
	URL         string
	Org         string
	Credentials string
	Backoff     time.Duration
}

func bindAPI(set *config.Set, a *apiFlags) {
	set.String(&a.URL, "api-url", "HZ_API_URL", hardenize.DefaultBaseURL, "Hardenize Organization API base URL; {org} is replaced by --org")
	set.String(&a.Org, "org", "HZ_ORG", "", "organization label (the X-Hardenize-Org of its deliveries)")
	set.String(&a.Credentials, "credentials", "HZ_API_CREDENTIALS", "", "file with the API user and password (YAML/JSON user, password; or user:password); else env "+envAPIUser+" and "+envAPIPassword)
	set.Duration(&a.Backoff, "api-backoff", "HZ_API_BACKOFF", time.Second, "first wait before retrying a request the API refused (429, 5xx); doubles up to 1m")
}

// client builds the API client; credentials come from the file or the environment, never flags.
func (a apiFlags) client(cio IO) (*hardenize.Client, error) { return a.clientWith(cio, nil) }

// clientWith is client with more options set by tune (nil: none).
func (a apiFlags) clientWith(cio IO, tune func(*hardenize.Options)) (*hardenize.Client, error) {
	if a.Org == "" {
		return nil, errors.New("--org (or HZ_ORG) is required")
	}
	var creds hardenize.Credentials
	if a.Credentials != "" {
		c, err := hardenize.LoadCredentials(a.Credentials)
		if err != nil {
			return nil, err
		}
		creds = c
	} else {
		creds.User, _ = cio.Env(envAPIUser)
		creds.Password, _ = cio.Env(envAPIPassword)
		if creds.User == "" || creds.Password == "" {
			return nil, fmt.Errorf("api credentials: set %s and %s, or --credentials FILE", envAPIUser, envAPIPassword)
		}
	}
	o := hardenize.Options{BaseURL: a.URL, Org: a.Org, Credentials: creds, MinBackoff: a.Backoff}
	if tune != nil {
		tune(&o)
	}
	return hardenize.New(o)
}

type hookSubcommand struct {
	summary string
	run     func(ctx context.Context, args []string, cio IO) error
}

func hookCommands() map[string]hookSubcommand {
	return map[string]hookSubcommand{
		"list":    {"list the organization's event hooks (secrets are not shown)", runHooksList},
		"setup":   {"create a hook, configure the receiver, test every variant, enable it when all pass", runHooksSetup},
		"rotate":  {"replace a hook by a new one with a new secret, with no failed delivery", runHooksRotate},
		"test":    {"run Hardenize's ;test for each event type and invalid variant; print a pass/fail table", runHooksTest},
		"enable":  {"enable a hook", hookStatus(hardenize.StatusEnabled)},
		"disable": {"disable a hook", hookStatus(hardenize.StatusDisabled)},
		"delete":  {"delete a hook", runHooksDelete},
	}
}

// runHooks dispatches "hzctl hooks <subcommand>".
func runHooks(ctx context.Context, args []string, cio IO) error {
	subs := hookCommands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := cio.Err
		if len(args) > 0 {
			w = cio.Out
		}
		fmt.Fprintln(w, "Usage: hzctl hooks <subcommand> [flags]   (hzctl hooks <subcommand> --help for its flags)\n\nSubcommands:")
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-8s %s\n", n, subs[n].summary)
		}
		if len(args) == 0 {
			return errors.New("a subcommand is required")
		}
		return nil
	}
	sub, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("unknown subcommand %q (hzctl hooks --help lists them)", args[0])
	}
	return sub.run(ctx, args[1:], cio)
}

func runHooksList(ctx context.Context, args []string, cio IO) error {
	var a apiFlags
	var asJSON bool
	set := config.NewSet("hzctl hooks list", cio.Env)
	bindAPI(set, &a)
	set.Bool(&asJSON, "json", "", false, "print JSON instead of a table")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	c, err := a.client(cio)
	if err != nil {
		return err
	}
	hooks, err := c.ListEventHooks(ctx)
	if err != nil {
		return err
	}
	for i := range hooks {
		hooks[i].Secret = "" // never printed
	}
	if asJSON {
		return writeIndentedJSON(cio.Out, hooks)
	}
	tw := tabwriter.NewWriter(cio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tEVENT TYPES\tDESTINATION")
	for _, h := range hooks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.ID, h.HookType, h.Status, strings.Join(h.EventTypes, ","), h.Destination)
	}
	return tw.Flush()
}

// hookStatus returns the enable or disable subcommand.
func hookStatus(status string) func(ctx context.Context, args []string, cio IO) error {
	return func(ctx context.Context, args []string, cio IO) error {
		var a apiFlags
		var id string
		set := config.NewSet("hzctl hooks "+strings.TrimSuffix(status, "d"), cio.Env)
		bindAPI(set, &a)
		set.String(&id, "hook", "", "", "event hook id")
		if err := parse(set, args, cio); err != nil {
			return err
		}
		if id == "" {
			return errors.New("--hook is required")
		}
		c, err := a.client(cio)
		if err != nil {
			return err
		}
		h, err := c.UpdateEventHook(ctx, id, hardenize.UpdateEventHookRequest{Status: status})
		if err != nil {
			return err
		}
		fmt.Fprintf(cio.Out, "hook %s is %s\n", h.ID, h.Status)
		return nil
	}
}

func runHooksDelete(ctx context.Context, args []string, cio IO) error {
	var a apiFlags
	var id string
	set := config.NewSet("hzctl hooks delete", cio.Env)
	bindAPI(set, &a)
	set.String(&id, "hook", "", "", "event hook id")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	if id == "" {
		return errors.New("--hook is required")
	}
	c, err := a.client(cio)
	if err != nil {
		return err
	}
	if err := c.DeleteEventHook(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(cio.Out, "hook %s deleted (its entry may now be removed from the receiver's secrets file)\n", id)
	return nil
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
