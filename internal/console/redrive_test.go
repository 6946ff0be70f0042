package console_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/queue"
)

// reverifier answers every reverification with one verdict, or one error.
type reverifier struct {
	verdict queue.Reverdict
	err     error
}

func (r reverifier) Reverify(context.Context, nats.Header, []byte) (queue.Reverdict, error) {
	return r.verdict, r.err
}

// A letter refused at intake (class rejected) is redriven through the receiver's verification.
// Whatever the verification answers, the console says it on a page: stored, or why the letter
// stays (it still fails, the API's 409; no receiver can verify it, 409; none answers now, 503),
// as a problem on the letter's page, never as an error page. A bulk redrive with such letters
// says so too.
func TestRedriveOfARejectedLetter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verifier *reverifier // nil: the store has none
		to       string      // where the POST redirects
		flash    string
		problem  bool
		stays    bool
	}{
		{"verified and stored", &reverifier{verdict: queue.Reverdict{Outcome: queue.ReverifyStored}}, "/ui/dlq",
			"Dead letter 1 passed the receiver&#39;s verification and was stored in the event stream.", false, false},
		{"verified, already stored", &reverifier{verdict: queue.Reverdict{Outcome: queue.ReverifyDuplicate}}, "/ui/dlq",
			"the event was already stored, so the letter is gone and nothing is processed twice", false, false},
		{"still fails", &reverifier{verdict: queue.Reverdict{Outcome: queue.ReverifyRejected, Reason: "bad_signature"}}, "/ui/dlq/1",
			"Not redriven: dead letter 1 still fails the receiver&#39;s verification (bad_signature). It stays a dead letter", true, true},
		{"no receiver now", &reverifier{err: queue.ErrNoReceiver}, "/ui/dlq/1",
			"Not redriven: dead letter 1: the receiver&#39;s verification is not available now: no receiver answered on " + queue.ReverifySubject, true, true},
		{"no way to verify", nil, "/ui/dlq/1",
			"Not redriven: dead letter 1: this dead letter was refused at intake and never verified", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []harnessOption
			if tc.verifier != nil {
				opts = append(opts, reverifyWith(*tc.verifier))
			}
			h := newHarness(t, opts...)
			h.deadLetter("1", []byte(`{"id":1}`), queue.ClassRejected, "bad_signature")
			c := h.client().login()
			confirm := c.get("/ui/dlq/1/redrive")
			assert.Contains(t, confirm.body, "the receiver verifies it again (with today&#39;s secrets) and stores it only if it passes")

			a := c.post("/ui/dlq/1/redrive", "/ui/dlq/1/redrive", nil)
			require.Equal(t, http.StatusSeeOther, a.code, a.body)
			assert.Equal(t, tc.to, a.hdr.Get("Location"))
			page := c.get(tc.to)
			require.Equal(t, http.StatusOK, page.code)
			flash := `<div class="flash" role="status" id="flash">`
			if tc.problem {
				flash = `<div class="flash problem" role="alert" id="flash">`
			}
			assert.Contains(t, between(t, page.body, flash, "</div>"), tc.flash)
			l, err := h.dlq.List(t.Context(), dlqFilter(), 1, 10)
			require.NoError(t, err)
			assert.Equal(t, tc.stays, l.Total == 1)

			if tc.stays {
				a = c.post("/ui/dlq/redrive?class=rejected", "/ui/dlq/redrive?class=rejected", nil)
				require.Equal(t, http.StatusSeeOther, a.code)
				assert.Equal(t, "/ui/dlq?class=rejected", a.hdr.Get("Location"))
				assert.Contains(t, between(t, c.get("/ui/dlq?class=rejected").body, `<div class="flash problem" role="alert" id="flash">`, "</div>"),
					"0 of 1 dead letter redriven. 1 failed and stay dead letters; the first: dead letter 1")
			}
		})
	}
}
