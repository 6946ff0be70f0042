package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
)

// maxBodyShown is how much of a dead letter's body its page shows; the rest is in the download.
const maxBodyShown = 64 << 10

// dlqFilterParams are the dead-letter filters, as the API names them.
var dlqFilterParams = []string{"stage", "class", "reason", "type", "handler", "consumer"}

type deadLettersData struct {
	Query  url.Values
	Filter dlq.Filter
	List   apiwire.List[apiwire.DLQLetter]
	Any    bool // a filter is set
}

func (con *Console) deadLetters(c echo.Context) error {
	if clean, ok := cleanQuery(c.Request().URL); !ok {
		return c.Redirect(http.StatusSeeOther, clean)
	}
	f, page, size, err := adminapi.DLQQuery(c)
	if err != nil {
		return err
	}
	l, err := con.d.DLQ.List(c.Request().Context(), f, page, size)
	if err != nil {
		return dlqError(err)
	}
	data := deadLettersData{Query: c.QueryParams(), Filter: f, List: l, Any: !f.IsZero()}
	return con.render(c, http.StatusOK, "dlq", "Dead letters", "dlq", data)
}

type header struct {
	Name   string
	Values []string
}

type deadLetterData struct {
	Letter    apiwire.DLQLetter
	Headers   []header
	Body      string // as text: indented JSON, or UTF-8 text, capped at maxBodyShown
	Binary    bool   // not text: only the download shows it
	Truncated bool
}

func (con *Console) letter(c echo.Context) (dlq.Letter, error) {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil || seq == 0 {
		return dlq.Letter{}, echo.NewHTTPError(http.StatusBadRequest, "seq: must be a positive integer")
	}
	l, err := con.d.DLQ.Get(c.Request().Context(), seq)
	return l, dlqError(err)
}

// deadLetter shows one dead letter: why it was given up on, its headers and its body, every value
// escaped by the template, the body cut at maxBodyShown.
func (con *Console) deadLetter(c echo.Context) error {
	l, err := con.letter(c)
	if err != nil {
		return err
	}
	data := deadLetterData{Letter: l.DLQLetter}
	for name, vs := range l.Header {
		data.Headers = append(data.Headers, header{Name: name, Values: vs})
	}
	slices.SortFunc(data.Headers, func(a, b header) int { return strings.Compare(a.Name, b.Name) })
	body := l.Data
	var pretty bytes.Buffer
	if len(body) <= 4*maxBodyShown && json.Indent(&pretty, body, "", "  ") == nil {
		body = pretty.Bytes()
	}
	if len(body) > maxBodyShown {
		body, data.Truncated = body[:maxBodyShown], true
		for len(body) > 0 && !utf8.Valid(body) && len(body) > maxBodyShown-4 { // do not cut a character in two
			body = body[:len(body)-1]
		}
	}
	if utf8.Valid(body) {
		data.Body = string(body)
	} else {
		data.Binary = true
	}
	return con.render(c, http.StatusOK, "letter", fmt.Sprintf("Dead letter %d", l.Seq), "dlq", data)
}

// deadLetterBody downloads the body exactly as stored, never rendered by the browser.
func (con *Console) deadLetterBody(c echo.Context) error {
	l, err := con.letter(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="dead-letter-%d.bin"`, l.Seq))
	return c.Blob(http.StatusOK, "application/octet-stream", l.Data)
}

// dlqAction is redrive or purge.
type dlqAction struct {
	name, verb, done string
}

var (
	dlqRedrive = dlqAction{name: "redrive", verb: "Redrive", done: "redriven"}
	dlqPurge   = dlqAction{name: "purge", verb: "Purge", done: "purged"}
)

type confirmData struct {
	Title, Message, Action, Button, Cancel string
	Danger                                 bool
	Letters                                []apiwire.DLQLetter // the first ones affected
	More                                   int
}

// filterFields are the fields of a dead-letter filter with their query parameter names.
func filterFields(f dlq.Filter) [][2]string {
	return [][2]string{{"stage", f.Stage}, {"class", f.Class}, {"reason", f.Reason}, {"type", f.Type}, {"handler", f.Handler}, {"consumer", f.Consumer}}
}

// filterText describes a filter for a sentence: "stage=worker class=transient", or "all".
func filterText(f dlq.Filter) string {
	var parts []string
	for _, kv := range filterFields(f) {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

func filterQuery(f dlq.Filter) url.Values {
	q := url.Values{}
	for _, kv := range filterFields(f) {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

// dlqConfirm says how many dead letters the filter matches now and asks before acting on them.
// Without a filter it asks about every dead letter (the API's all=true).
func (con *Console) dlqConfirm(a dlqAction) func(echo.Context) error {
	return func(c echo.Context) error {
		f := adminapi.DLQFilter(c)
		l, err := con.d.DLQ.List(c.Request().Context(), f, 1, 20)
		if err != nil {
			return dlqError(err)
		}
		q := filterQuery(f)
		what := "matching " + filterText(f)
		if f.IsZero() {
			q.Set("all", "true")
			what = "(all of them)"
		}
		data := confirmData{
			Title:   a.verb + " dead letters",
			Message: fmt.Sprintf("%s %s %s?", a.verb, plural(l.Total, "dead letter"), what),
			Action:  "/ui/dlq/" + a.name + "?" + q.Encode(), Button: a.verb + " " + plural(l.Total, "dead letter"),
			Cancel: "/ui/dlq" + without(filterQuery(f)), Danger: a == dlqPurge, Letters: l.Items, More: l.Total - len(l.Items),
		}
		if a == dlqRedrive {
			data.Message += " Each goes back to the consumer that failed it and to no other (an alert one sink refused is not sent to the other sinks again); handlers are idempotent, so an event already processed is processed once. A letter refused at intake (class rejected) is verified again by the receiver and stays a letter if it still fails."
		} else {
			data.Message += " Purged dead letters are deleted for good."
		}
		return con.render(c, http.StatusOK, "confirm", data.Title, "dlq", data)
	}
}

// dlqBulk redrives or purges every dead letter matching the filter in the action's query.
func (con *Console) dlqBulk(a dlqAction) func(echo.Context) error {
	return func(c echo.Context) error {
		f, all := adminapi.DLQFilter(c), c.QueryParam("all") == "true"
		op := con.d.DLQ.RedriveMatching
		if a == dlqPurge {
			op = con.d.DLQ.PurgeMatching
		}
		b, err := op(c.Request().Context(), f, all)
		if err != nil {
			return dlqError(err)
		}
		msg := fmt.Sprintf("%s of %s %s.", strconv.Itoa(b.Done), plural(b.Matched, "dead letter"), a.done)
		if len(b.Failed) > 0 {
			msg += fmt.Sprintf(" %d failed, the first: dead letter %d: %s", len(b.Failed), b.Failed[0].Seq, b.Failed[0].Error)
		}
		con.log.InfoContext(c.Request().Context(), "console dead letters "+a.done, "filter", filterText(f), "matched", b.Matched, "done", b.Done, "failed", len(b.Failed))
		return con.redirectWithFlash(c, "/ui/dlq", msg)
	}
}

// dlqConfirmOne asks before acting on one dead letter.
func (con *Console) dlqConfirmOne(a dlqAction) func(echo.Context) error {
	return func(c echo.Context) error {
		l, err := con.letter(c)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("%s 1 dead letter: %d (%s, %s)?", a.verb, l.Seq, l.Class, l.Reason)
		if a == dlqRedrive {
			msg += " It goes back to " + l.Subject + "."
		}
		data := confirmData{
			Title: fmt.Sprintf("%s dead letter %d", a.verb, l.Seq), Message: msg,
			Action: fmt.Sprintf("/ui/dlq/%d/%s", l.Seq, a.name), Button: a.verb + " 1 dead letter",
			Cancel: fmt.Sprintf("/ui/dlq/%d", l.Seq), Danger: a == dlqPurge, Letters: []apiwire.DLQLetter{l.DLQLetter},
		}
		return con.render(c, http.StatusOK, "confirm", data.Title, "dlq", data)
	}
}

func (con *Console) dlqOne(a dlqAction) func(echo.Context) error {
	return func(c echo.Context) error {
		seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
		if err != nil || seq == 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "seq: must be a positive integer")
		}
		ctx := c.Request().Context()
		var msg string
		if a == dlqRedrive {
			r, err := con.d.DLQ.Redrive(ctx, seq)
			if err != nil {
				return dlqError(err)
			}
			msg = fmt.Sprintf("Dead letter %d redriven to %s (stream sequence %d).", seq, r.Subject, r.StreamSeq)
		} else {
			if err := con.d.DLQ.Purge(ctx, seq); err != nil {
				return dlqError(err)
			}
			msg = fmt.Sprintf("Dead letter %d purged.", seq)
		}
		con.log.InfoContext(ctx, "console dead letter "+a.done, "seq", seq)
		return con.redirectWithFlash(c, "/ui/dlq", msg)
	}
}
