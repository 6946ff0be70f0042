package console

import (
	"bytes"
	"encoding/json"
	"errors"
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
	"github.com/hzhook/hzhook/internal/queue"
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
		if verified := countVerified(b.Redriven); verified > 0 {
			msg += fmt.Sprintf(" %d of them passed the receiver's verification again and went to the event stream.", verified)
		}
		con.log.InfoContext(c.Request().Context(), "console dead letters "+a.done, "filter", filterText(f), "matched", b.Matched, "done", b.Done, "failed", len(b.Failed))
		if len(b.Failed) > 0 {
			// The first failure's text is the store's own (BulkError), e.g. a rejected letter that
			// still fails verification: the letters stay, so this is a problem, not a confirmation.
			msg += fmt.Sprintf(" %d failed and stay dead letters; the first: %s", len(b.Failed), b.Failed[0].Error)
			return con.redirectWithProblem(c, "/ui/dlq"+without(filterQuery(f)), msg)
		}
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
		switch {
		case a == dlqRedrive && l.Class == queue.ClassRejected:
			msg += " It was refused at intake and never verified: the receiver verifies it again (with today's secrets) and stores it only if it passes; otherwise it stays a dead letter."
		case a == dlqRedrive && l.Consumer != "":
			msg += " It goes back to " + l.Consumer + " alone (" + l.Subject + ")."
		case a == dlqRedrive:
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
			if refusal, ok := redriveRefused(err); ok {
				con.log.InfoContext(ctx, "console dead letter not redriven", "seq", seq, "err", err)
				return con.redirectWithProblem(c, fmt.Sprintf("/ui/dlq/%d", seq), refusal)
			}
			if err != nil {
				return dlqError(err)
			}
			msg = redrivenText(r)
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

// redriveRefused says why a redrive did not happen when the reason is one to show, not a failure
// of the console: a letter refused at intake that still fails the receiver's verification (the
// API's 409), one that no receiver can verify (409), or no receiver answering now (503). The
// letter stays.
func redriveRefused(err error) (string, bool) {
	var rej *dlq.RejectedError
	switch {
	case errors.As(err, &rej):
		return fmt.Sprintf("Not redriven: dead letter %d still fails the receiver's verification (%s). It stays a dead letter: fix the cause (a secret rotated away?) and redrive it again, or purge it.", rej.Seq, rej.Reason), true
	case errors.Is(err, dlq.ErrNotVerifiable):
		return "Not redriven: " + err.Error() + ". It stays a dead letter.", true
	case errors.Is(err, dlq.ErrVerifierUnavailable):
		return "Not redriven: " + err.Error() + " It stays a dead letter: try again when a receiver is running.", true
	}
	return "", false
}

// redrivenText confirms one redrive: where the letter went, or that the receiver verified it.
func redrivenText(r apiwire.DLQRedriven) string {
	switch {
	case r.Outcome == apiwire.RedriveOutcomeVerified && r.Duplicate:
		return fmt.Sprintf("Dead letter %d passed the receiver's verification; the event was already stored, so the letter is gone and nothing is processed twice.", r.Seq)
	case r.Outcome == apiwire.RedriveOutcomeVerified:
		return fmt.Sprintf("Dead letter %d passed the receiver's verification and was stored in the event stream.", r.Seq)
	}
	return fmt.Sprintf("Dead letter %d redriven to %s (stream sequence %d).", r.Seq, r.Subject, r.StreamSeq)
}

func countVerified(rs []apiwire.DLQRedriven) int {
	n := 0
	for _, r := range rs {
		if r.Outcome == apiwire.RedriveOutcomeVerified {
			n++
		}
	}
	return n
}
