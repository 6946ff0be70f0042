package hzctl

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/config"
)

const dlqUsage = `Usage: hzctl dlq <list|show|redrive|purge> [SEQ] [flags]

  list                      dead letters with reason and attempts (filters, --page, --page-size)
  show SEQ                  one dead letter with its headers and body
  redrive SEQ | FILTER      send back to processing with the original message id
  purge SEQ | FILTER        delete for good

FILTER is one or more of --class, --reason, --type, --stage, --handler, --consumer, or --all.
A redrive goes back to the consumer that failed the letter, and to no other (an alert failed by
the Slack sink is not sent to the webhook sink again). A letter refused at intake (class rejected)
was never verified: a redrive hands it to the receiver's verification again, and it stays a letter
when it still fails.
The worker admin API is called at --api with the bearer token in HZ_ADMIN_TOKEN.
--json prints the API's answer for scripts.`

type dlqOptions struct {
	adminOptions
	Filter   dlqFilter
	All      bool
	Page     int
	PageSize int
	seq      string
}

func runDLQ(ctx context.Context, args []string, cio IO) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(cio.Err, dlqUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	var o dlqOptions
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.seq, args = args[0], args[1:]
	}
	set := config.NewSet("hzctl dlq "+sub, cio.Env)
	bindAdminOptions(set, &o.adminOptions, "dead-letter API", time.Minute) // a bulk redrive may take a while
	set.String(&o.Filter.Class, "class", "", "", "only dead letters of this error class: permanent, transient, rejected")
	set.String(&o.Filter.Reason, "reason", "", "", "only dead letters with this reason, e.g. invalid_payload, max_deliver")
	set.String(&o.Filter.Type, "type", "", "", "only events of this type, e.g. ct.entry")
	set.String(&o.Filter.Stage, "stage", "", "", "only dead letters of this stage, e.g. worker")
	set.String(&o.Filter.Handler, "handler", "", "", "only dead letters of this handler")
	set.String(&o.Filter.Consumer, "consumer", "", "", "only dead letters this consumer failed, e.g. hz-alerts-slack")
	set.Bool(&o.All, "all", "", false, "redrive or purge every dead letter (without a filter)")
	set.Int(&o.Page, "page", "", 1, "page of the listing, from 1")
	set.Int(&o.PageSize, "page-size", "", 50, "dead letters per page (at most 200)")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	if o.seq == "" && len(set.Args()) > 0 {
		o.seq = set.Args()[0]
	}
	c := newAdminAPI(o.adminOptions)

	switch sub {
	case "list":
		return dlqList(ctx, c, o, cio.Out)
	case "show":
		return dlqShow(ctx, c, o, cio.Out)
	case "redrive", "purge":
		return dlqApply(ctx, c, sub, o, cio.Out)
	}
	fmt.Fprintf(cio.Err, "hzctl dlq: unknown subcommand %q\n\n%s\n", sub, dlqUsage)
	return errUsage
}

// dlqFilter is the dead-letter filter of the command line, sent as the API's query parameters.
type dlqFilter struct{ Class, Reason, Type, Stage, Handler, Consumer string }

func (o dlqOptions) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"class": o.Filter.Class, "reason": o.Filter.Reason,
		"type": o.Filter.Type, "stage": o.Filter.Stage, "handler": o.Filter.Handler, "consumer": o.Filter.Consumer} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func (o dlqOptions) seqPath() (string, error) {
	if _, err := strconv.ParseUint(o.seq, 10, 64); err != nil || o.seq == "0" {
		return "", fmt.Errorf("name the dead letter by its sequence number, e.g. hzctl dlq show 12 (got %q)", o.seq)
	}
	return "/api/v1/dlq/" + o.seq, nil
}

func dlqList(ctx context.Context, c adminAPI, o dlqOptions, out io.Writer) error {
	q := o.query()
	q.Set("page", strconv.Itoa(o.Page))
	q.Set("pageSize", strconv.Itoa(o.PageSize))
	var p apiwire.List[apiwire.DLQLetter]
	raw, err := c.do(ctx, http.MethodGet, "/api/v1/dlq", q, &p)
	if err != nil || o.JSON {
		return printJSON(out, raw, err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTYPE\tEVENT\tCONSUMER\tCLASS\tREASON\tATTEMPTS\tDEAD-LETTERED\tERROR")
	for _, l := range p.Items {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", l.Seq, orDash(l.Type), orDash(l.EventID), orDash(cmp.Or(l.Consumer, l.Stage)),
			l.Class, l.Reason, l.Attempts, l.DeadLetteredAt.Format(time.RFC3339), truncate(l.Error, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "page %d of %d, %d dead letters\n", p.Page, max(p.Pages, 1), p.Total)
	return nil
}

func dlqShow(ctx context.Context, c adminAPI, o dlqOptions, out io.Writer) error {
	path, err := o.seqPath()
	if err != nil {
		return err
	}
	var d apiwire.DLQDetail
	raw, err := c.do(ctx, http.MethodGet, path, nil, &d)
	if err != nil || o.JSON {
		return printJSON(out, raw, err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"seq", strconv.FormatUint(d.Seq, 10)}, {"stage", d.Stage}, {"subject", d.Subject},
		{"type", d.Type}, {"event id", d.EventID}, {"org", d.Org}, {"msg id", d.MsgID},
		{"class", d.Class}, {"reason", d.Reason}, {"error", d.Error}, {"handler", d.Handler},
		{"stream", d.Stream}, {"consumer", d.Consumer},
		{"attempts", strconv.Itoa(d.Attempts)}, {"dead-lettered", d.DeadLetteredAt.Format(time.RFC3339Nano)},
		{"size", strconv.Itoa(d.Size) + " bytes"},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], orDash(kv[1]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "headers:")
	for k, vs := range d.Headers {
		fmt.Fprintf(out, "  %s: %s\n", k, strings.Join(vs, ", "))
	}
	fmt.Fprintln(out, "data:")
	var pretty bytes.Buffer
	if len(d.Data) > 0 && json.Indent(&pretty, d.Data, "  ", "  ") == nil {
		fmt.Fprintf(out, "  %s\n", pretty.String())
	} else if d.DataBase64 != "" {
		fmt.Fprintf(out, "  (base64) %s\n", d.DataBase64)
	}
	return nil
}

// dlqApply redrives or purges one dead letter (SEQ) or every one matching the filter.
func dlqApply(ctx context.Context, c adminAPI, op string, o dlqOptions, out io.Writer) error {
	method := map[string]string{"redrive": http.MethodPost, "purge": http.MethodDelete}[op]
	if o.seq != "" {
		path, err := o.seqPath()
		if err != nil {
			return err
		}
		if op == "redrive" {
			path += "/redrive"
		}
		var r apiwire.DLQRedriven
		raw, err := c.do(ctx, method, path, nil, &r)
		if err != nil || (o.JSON && op == "redrive") {
			return printJSON(out, raw, err)
		}
		if op == "purge" {
			if o.JSON {
				return printJSON(out, fmt.Appendf(nil, `{"seq":%s,"purged":true}`, o.seq), nil)
			}
			fmt.Fprintf(out, "purged dead letter %s\n", o.seq)
			return nil
		}
		if r.Outcome == apiwire.RedriveOutcomeVerified {
			fmt.Fprintf(out, "dead letter %d passed verification now and is stored (duplicate: %t)\n", r.Seq, r.Duplicate)
			return nil
		}
		fmt.Fprintf(out, "redriven dead letter %d to %s, for %s only (stream seq %d, msg id %s)\n", r.Seq, r.Subject,
			orDash(r.Consumer), r.StreamSeq, r.MsgID)
		return nil
	}
	q := o.query()
	if len(q) == 0 && !o.All {
		return fmt.Errorf("name a dead letter (SEQ), a filter (--class, --reason, --type, --stage, --handler) or --all")
	}
	if o.All {
		q.Set("all", "true")
	}
	path := "/api/v1/dlq"
	if op == "redrive" {
		path += "/redrive"
	}
	var b apiwire.DLQBulk
	raw, err := c.do(ctx, method, path, q, &b)
	if err != nil || o.JSON {
		return printJSON(out, raw, err)
	}
	fmt.Fprintf(out, "%s: %d of %d matching dead letters, %d failed\n", op, b.Done, b.Matched, len(b.Failed))
	for _, f := range b.Failed {
		fmt.Fprintf(out, "  %d: %s\n", f.Seq, f.Error)
	}
	if len(b.Failed) > 0 {
		return fmt.Errorf("%d dead letters failed", len(b.Failed))
	}
	return nil
}
