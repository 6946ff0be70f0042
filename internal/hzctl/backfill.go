package hzctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hzhook/hzhook/internal/backfill"
	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/queue"
)

type backfillFlags struct {
	api        apiFlags
	Since      string
	Type       string
	Hook       string
	Checkpoint string
	NATSURL    string
	PageSize   int
	ScanStored bool
	JSON       bool
}

func runBackfill(ctx context.Context, args []string, cio IO) error {
	var f backfillFlags
	set := config.NewSet("hzctl backfill", cio.Env)
	bindAPI(set, &f.api)
	set.String(&f.Since, "since", "", "", "pull events created after this time: RFC 3339 (2024-05-01T00:00:00Z) or a duration back from now (48h)")
	set.String(&f.Type, "type", "", "", "only events of this type (default: all)")
	set.String(&f.Hook, "hook", "HZ_HOOK_ID", "", "webhook hook whose deliveries are recovered; its id goes into X-Hardenize-EventHookId and the Nats-Msg-Id (default: the organization's only webhook hook)")
	set.String(&f.Checkpoint, "checkpoint", "HZ_BACKFILL_CHECKPOINT", "", "file keeping the position after every page; a rerun continues from it")
	set.String(&f.NATSURL, "nats-url", "HZ_NATS_URL", "nats://127.0.0.1:4222", "NATS server holding HZ_EVENTS")
	set.Int(&f.PageSize, "page-size", "", hardenize.MaxEventsPerPage, "events per API call (1-100)")
	set.Bool(&f.ScanStored, "scan-stored", "", true, "read HZ_EVENTS' message ids first, so events older than the duplicate window are not stored twice")
	set.Bool(&f.JSON, "json", "", false, "print the summary as JSON")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	since, err := parseSince(f.Since, time.Now())
	if err != nil {
		return err
	}
	if f.PageSize < 1 || f.PageSize > hardenize.MaxEventsPerPage {
		return fmt.Errorf("--page-size %d: must be 1 to %d", f.PageSize, hardenize.MaxEventsPerPage)
	}
	c, err := f.api.client(cio)
	if err != nil {
		return err
	}
	hook := f.Hook
	if hook == "" {
		if hook, err = onlyWebhook(ctx, c); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(cio.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conn, err := connectNATS(ctx, f.NATSURL, log)
	if err != nil {
		return err
	}
	defer conn.Close(5 * time.Second)

	deps := backfill.Deps{API: c, Publisher: queue.NewPublisher(conn.JS), Log: log}
	if f.ScanStored {
		deps.Stream = conn.JS
	}
	opts := backfill.Options{Org: c.Org(), HookID: hook, Since: since, Type: f.Type, PageSize: f.PageSize,
		Progress: func(p backfill.Progress) {
			fmt.Fprintf(cio.Err, "page %d: %d events, %d stored, %.1f events/s, at %s\n",
				p.Pages, p.Events, p.Stored, p.Rate, p.Cursor.Format(time.RFC3339Nano))
		}}
	if f.Checkpoint != "" {
		opts.Checkpoint = backfill.FileCheckpoint{Path: f.Checkpoint}
	}
	st, runErr := backfill.New(deps).Run(ctx, opts)
	if f.JSON {
		if err := writeIndentedJSON(cio.Out, st); err != nil {
			return err
		}
	} else {
		printBackfillStats(cio.Out, c.Org(), hook, st)
	}
	if runErr != nil {
		if f.Checkpoint != "" {
			return fmt.Errorf("%w (run again to continue from %s)", runErr, f.Checkpoint)
		}
		return runErr
	}
	return nil
}

// parseSince reads an RFC 3339 time or a duration back from now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("--since is required (RFC 3339 time or a duration such as 48h)")
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: use RFC 3339 (2024-05-01T00:00:00Z) or a duration (48h)", v)
	}
	return t.UTC(), nil
}

// onlyWebhook returns the id of the organization's single webhook hook.
func onlyWebhook(ctx context.Context, c *hardenize.Client) (string, error) {
	hooks, err := c.ListEventHooks(ctx)
	if err != nil {
		return "", err
	}
	var ids []string
	for _, h := range hooks {
		if h.HookType == hardenize.HookTypeWebhook {
			ids = append(ids, h.ID)
		}
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("the organization has %d webhook hooks (%s): name the one whose deliveries are recovered with --hook", len(ids), strings.Join(ids, ", "))
	}
	return ids[0], nil
}

// connectNATS connects and checks HZ_EVENTS exists; backfill never creates it.
func connectNATS(ctx context.Context, url string, log *slog.Logger) (*queue.Conn, error) {
	conn, err := queue.Connect(ctx, url, "hzctl", log)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.WaitConnected(wctx); err != nil {
		conn.Close(time.Second)
		return nil, fmt.Errorf("nats at %s: %w", url, err)
	}
	if _, err := conn.JS.Stream(wctx, queue.StreamEvents); err != nil {
		conn.Close(time.Second)
		return nil, fmt.Errorf("stream %s at %s: %w (start the receiver once to create it)", queue.StreamEvents, url, err)
	}
	return conn, nil
}

func printBackfillStats(w io.Writer, org, hook string, st backfill.Stats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := [][2]string{
		{"org", org}, {"hook", hook},
		{"from", st.From.Format(time.RFC3339Nano)}, {"resumed", fmt.Sprint(st.Resumed)},
		{"cursor", st.Cursor.Format(time.RFC3339Nano)},
		{"pages", fmt.Sprint(st.Pages)}, {"events", fmt.Sprint(st.Events)},
		{"stored", fmt.Sprint(st.Stored)}, {"duplicates", fmt.Sprint(st.Duplicates)},
		{"already stored", fmt.Sprint(st.AlreadyStored)}, {"invalid", fmt.Sprint(st.Invalid)},
		{"elapsed", st.Elapsed.Round(time.Millisecond).String()}, {"rate", fmt.Sprintf("%.1f events/s", st.Rate)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	_ = tw.Flush()
}
