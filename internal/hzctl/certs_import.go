package hzctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/hzhook/hzhook/internal/certsync"
	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/queue"
)

type certsImportFlags struct {
	api          apiFlags
	NATSURL      string
	Checkpoint   string
	Alerts       bool
	Limit        int
	PollInterval time.Duration
	JSON         bool
}

// runCertsImport fills the inventory from the Hardenize certificate API: every certificate goes
// into HZ_EVENTS as a pki.cert.new event, which the workers store like Hardenize's own.
func runCertsImport(ctx context.Context, args []string, cio IO) error {
	var f certsImportFlags
	set := config.NewSet("hzctl certs import", cio.Env)
	bindAPI(set, &f.api)
	set.String(&f.NATSURL, "nats-url", "HZ_NATS_URL", "nats://127.0.0.1:4222", "NATS server holding HZ_EVENTS")
	set.String(&f.Checkpoint, "checkpoint", "", "", "file keeping the position after every page; a rerun after an interruption continues from it")
	set.Bool(&f.Alerts, "alerts", "", false, "alert on the findings of imported certificates; by default they are recorded as suppressed and page no one (history)")
	set.Int(&f.Limit, "limit", "", 0, "import at most this many certificates (the API's limit; 0 = all)")
	set.Duration(&f.PollInterval, "poll-interval", "", 2*time.Second, "first wait between polls of the listing operation; doubles up to 30s")
	set.Bool(&f.JSON, "json", "", false, "print the summary as JSON")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	if f.Limit < 0 {
		return fmt.Errorf("--limit %d: must be 0 (all) or more", f.Limit)
	}
	if f.PollInterval <= 0 {
		return fmt.Errorf("--poll-interval %s: must be positive", f.PollInterval)
	}
	c, err := f.api.clientWith(cio, func(o *hardenize.Options) { o.PollInterval = f.PollInterval })
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(cio.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conn, err := connectNATS(ctx, f.NATSURL, log)
	if err != nil {
		return err
	}
	defer conn.Close(5 * time.Second)

	o := certsync.Options{Org: c.Org(), Source: queue.SourceImport, Alerts: f.Alerts, Limit: f.Limit,
		Progress: func(p certsync.Progress) { fmt.Fprintln(cio.Err, progressLine(p)) },
		OnStatus: func(st hardenize.OperationStatus) {
			if !st.Done {
				fmt.Fprintf(cio.Err, "waiting for Hardenize to prepare the listing (operation %s)\n", st.ID)
			}
		}}
	if f.Checkpoint != "" {
		o.Checkpoint = certsync.FileCheckpoint{Path: f.Checkpoint}
	}
	st, runErr := certsync.Run(ctx, certsync.Deps{API: c, Publisher: queue.NewPublisher(conn.JS), Log: log}, o)
	if f.JSON {
		if err := writeIndentedJSON(cio.Out, st); err != nil {
			return err
		}
	} else {
		printImportStats(cio.Out, c.Org(), f.Alerts, st)
	}
	if runErr != nil {
		if f.Checkpoint != "" {
			return fmt.Errorf("%w (run again to continue from %s)", runErr, f.Checkpoint)
		}
		return runErr
	}
	return nil
}

// progressLine is one page's progress: certificates done of the total, rate, time left.
func progressLine(p certsync.Progress) string {
	pages, total := "?", "?"
	if p.PagesTotal > 0 {
		pages = fmt.Sprint(p.PagesTotal)
	}
	pct := ""
	if p.Total > 0 {
		total = fmt.Sprint(p.Total)
		pct = fmt.Sprintf(" (%.0f%%)", 100*float64(p.Certificates)/float64(p.Total))
	}
	eta := "eta -"
	switch {
	case p.Completed:
		eta = "done"
	case p.ETA > 0:
		eta = "eta " + p.ETA.Round(time.Second).String()
	}
	return fmt.Sprintf("page %d/%s: %d/%s certificates%s, %.1f certificates/s, %s; %d stored, %d already stored",
		p.Pages, pages, p.Certificates, total, pct, p.Rate, eta, p.Published, p.Duplicates)
}

func printImportStats(w io.Writer, org string, alerts bool, st certsync.Stats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	alertsText := "off (findings recorded as suppressed)"
	if alerts {
		alertsText = "on"
	}
	asOf := "-"
	if !st.AsOf.IsZero() {
		asOf = st.AsOf.Format(time.RFC3339)
	}
	rows := [][2]string{
		{"org", org}, {"listing as of", asOf}, {"resumed", fmt.Sprint(st.Resumed)}, {"restarted", fmt.Sprint(st.Restarted)},
		{"completed", fmt.Sprint(st.Completed)}, {"pages", fmt.Sprintf("%d of %d", st.Pages, st.PagesTotal)},
		{"certificates", fmt.Sprintf("%d of %d", st.Certificates, st.Total)},
		{"stored", fmt.Sprint(st.Published)}, {"already stored", fmt.Sprint(st.Duplicates)},
		{"rejected", fmt.Sprint(st.Rejected)}, {"alerts", alertsText},
		{"elapsed", time.Duration(st.Elapsed).Round(time.Millisecond).String()}, {"rate", fmt.Sprintf("%.1f certificates/s", st.Rate)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	_ = tw.Flush()
}
