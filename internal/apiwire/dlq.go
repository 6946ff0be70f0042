package apiwire

import (
	"encoding/json"
	"time"
)

// DLQLetter is one dead letter as listed: where it came from and why it was given up on.
type DLQLetter struct {
	Seq            uint64    `json:"seq"`   // sequence in HZ_DLQ: the id operators use
	Stage          string    `json:"stage"` // "worker", "pubsub", "alerts", ...
	Subject        string    `json:"subject"`
	OriginalSeq    uint64    `json:"originalSeq,omitempty"`
	MsgID          string    `json:"msgId,omitempty"`
	EventID        string    `json:"eventId,omitempty"`
	Type           string    `json:"type,omitempty"`
	Org            string    `json:"org,omitempty"`
	Class          string    `json:"class"`
	Reason         string    `json:"reason"`
	Error          string    `json:"error"`
	Handler        string    `json:"handler,omitempty"`
	Stream         string    `json:"stream,omitempty"`   // the stream it was consumed from
	Consumer       string    `json:"consumer,omitempty"` // the consumer that failed it: a redrive goes back to it alone
	Attempts       int       `json:"attempts"`
	DeadLetteredAt time.Time `json:"deadLetteredAt"`
	Size           int       `json:"size"` // body bytes
}

// DLQDetail is the answer of GET /dlq/{seq}: the letter, its headers, and its body as JSON when it
// is JSON (dataBase64 otherwise).
type DLQDetail struct {
	DLQLetter
	Headers    map[string][]string `json:"headers"`
	Data       json.RawMessage     `json:"data,omitempty"`
	DataBase64 string              `json:"dataBase64,omitempty"`
}

// Outcomes of a redrive.
const (
	// RedriveOutcomeRedriven: the letter went back to the consumer that failed it.
	RedriveOutcomeRedriven = "redriven"
	// RedriveOutcomeVerified: a letter that was never verified (class rejected) passed the
	// receiver's verification now and is stored in HZ_EVENTS.
	RedriveOutcomeVerified = "verified"
)

// DLQRedriven is the outcome of one redrive.
type DLQRedriven struct {
	Seq       uint64 `json:"seq"`                 // the dead letter's sequence (now deleted)
	Outcome   string `json:"outcome"`             // RedriveOutcomeRedriven or RedriveOutcomeVerified
	Subject   string `json:"subject,omitempty"`   // where it went
	Consumer  string `json:"consumer,omitempty"`  // the only consumer that takes it there
	MsgID     string `json:"msgId,omitempty"`     // Nats-Msg-Id it was published with
	StreamSeq uint64 `json:"streamSeq,omitempty"` // its new sequence in the original stream
	Duplicate bool   `json:"duplicate,omitempty"` // verified: the event was already stored
}

// DLQBulk is the outcome of an operation on every dead letter matching a filter.
type DLQBulk struct {
	Matched  int            `json:"matched"`
	Done     int            `json:"done"`
	Failed   []DLQBulkError `json:"failed"`
	Redriven []DLQRedriven  `json:"redriven,omitempty"`
}

// DLQBulkError is one dead letter a bulk operation could not handle.
type DLQBulkError struct {
	Seq   uint64 `json:"seq"`
	Error string `json:"error"`
}
