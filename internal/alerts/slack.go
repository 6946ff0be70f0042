package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/hzhook/hzhook/internal/events"
)

// SlackOptions configure a SlackSink.
type SlackOptions struct {
	URL    string       // the incoming-webhook URL (https://hooks.slack.com/services/...)
	Client *http.Client // default: 10s timeout, redirects not followed
	Trace  Tracing      // client spans and traceparent; zero: none
}

// SlackSink posts each alert to a Slack incoming webhook: a plain text fallback (shown in
// notifications) and Block Kit blocks. Slack answers 400/403/404/410 to a payload or URL it will
// never accept (permanent) and 429 or 5xx when it may later (transient). Safe for concurrent use.
type SlackSink struct {
	url    string
	client *http.Client
	trace  httpTracer
}

// NewSlackSink validates o and returns the sink.
func NewSlackSink(o SlackOptions) (*SlackSink, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("slack sink url: must be an absolute http(s) URL")
	}
	if o.Client == nil {
		o.Client = newHTTPClient()
	}
	return &SlackSink{url: o.URL, client: o.Client, trace: o.Trace.http()}, nil
}

// Kind returns KindSlack.
func (s *SlackSink) Kind() string { return KindSlack }

// Deliver posts a. See Sink for the error classes.
func (s *SlackSink) Deliver(ctx context.Context, a Alert) error {
	body, err := json.Marshal(SlackPayload(a))
	if err != nil {
		return events.Permanent(fmt.Errorf("slack sink: encode message: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return events.Permanent(fmt.Errorf("slack sink: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	return post(ctx, s.client, s.trace, KindSlack, req)
}

// SlackMessage is the incoming-webhook body.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is one Block Kit block (header, section or context).
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Fields   []SlackText `json:"fields,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

// Slack's limits on text lengths.
const (
	slackHeaderMax = 150
	slackFieldMax  = 2000
	slackHostsMax  = 20
)

// SlackPayload renders a as a Slack message. Everything that comes from a certificate is escaped:
// a name such as "<!channel>" must not ping a channel.
func SlackPayload(a Alert) SlackMessage {
	hosts := a.Cert.Hosts
	more := ""
	if len(hosts) > slackHostsMax {
		more = fmt.Sprintf(" and %d more", len(hosts)-slackHostsMax)
		hosts = hosts[:slackHostsMax]
	}
	hostText := strings.Join(hosts, ", ") + more
	if hostText == "" {
		hostText = "(no names)"
	}
	kind := "certificate"
	if a.Cert.Precert {
		kind = "precertificate"
	}
	fields := []SlackText{
		mrkdwn("*Names*\n" + escape(hostText)),
		mrkdwn("*Issuer*\n" + escape(firstNonEmpty(a.Cert.IssuerCA, a.Cert.Issuer, "unknown"))),
	}
	if !a.Cert.NotAfter.IsZero() {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Valid*\n%s to %s",
			a.Cert.NotBefore.UTC().Format("2006-01-02"), a.Cert.NotAfter.UTC().Format("2006-01-02"))))
	}
	fields = append(fields, mrkdwn("*Kind*\n"+kind))
	return SlackMessage{
		Text: truncate(escape(fmt.Sprintf("hzhook %s: %s (%s)", a.Type, a.Detail, hostText)), slackFieldMax),
		Blocks: []SlackBlock{
			{Type: "header", Text: &SlackText{Type: "plain_text", Text: truncate("Certificate finding: "+string(a.Type), slackHeaderMax)}},
			{Type: "section", Text: ptr(mrkdwn(escape(a.Detail))), Fields: fields},
			{Type: "context", Elements: []SlackText{mrkdwn(fmt.Sprintf("sha256 `%s` · tbsSha256 `%s` · alert `%s`",
				escape(a.Cert.SHA256), escape(a.Cert.TBSSHA256), a.ID))}},
		},
	}
}

func mrkdwn(s string) SlackText { return SlackText{Type: "mrkdwn", Text: truncate(s, slackFieldMax)} }

func ptr[T any](v T) *T { return &v }

// escape applies Slack's three mandatory escapes for message text.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
