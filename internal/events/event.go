package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Event types hzhook knows.
const (
	TypeTest    = "test"
	TypeCTEntry = "ct.entry"
	TypeCertNew = "pki.cert.new"
)

const (
	maxTypeLen   = 128 // bytes
	maxIDDigits  = 20  // enough for any uint64
	jsonNullText = "null"
)

// Event is the Hardenize envelope {"id","type","createdOn","apiVersion","data"}.
type Event struct {
	// ID is the decimal event id without leading zeros. The wire may carry it
	// as a JSON number (10001, 0) or as a string of digits.
	ID   string
	Type string
	// CreatedOn is in UTC.
	CreatedOn time.Time
	// APIVersion is optional: the webhook test event does not carry it.
	APIVersion string
	// Data is always the JSON value itself. The events API sends data as a
	// JSON string containing JSON; webhooks send an object. In the object
	// form Data is a slice of the parsed body (no copy: callers own their
	// bodies); in the string form it holds the decoded inner JSON.
	Data json.RawMessage
}

// TestMessage is the payload of a test event: {"message": ...}.
type TestMessage struct {
	Message string `json:"message"`
}

// wireEvent holds the raw bytes of each envelope field, slices of the body,
// so ParseEnvelope can tell missing, null and mistyped values apart and see
// the exact bytes of the type.
type wireEvent struct {
	ID, Type, CreatedOn, APIVersion, Data []byte
}

// scanEnvelope reads body in one pass with a streaming decoder: it checks
// that all of it is one well-formed JSON object and picks out the envelope
// fields without copying or decoding anything else. encoding/json would scan
// the body twice and copy every field, which made this the receiver's most
// expensive step. Field names match exactly; an envelope field that occurs
// twice is refused, since its meaning would depend on the parser.
func scanEnvelope(body []byte) (wireEvent, error) {
	var w wireEvent
	dec := jsontext.NewDecoder(bytes.NewBuffer(body),
		jsontext.AllowInvalidUTF8(true), // as encoding/json; the type's bytes are checked on their own
		jsontext.AllowDuplicateNames(true))
	if _, err := dec.ReadToken(); err != nil { // '{', checked by the caller
		return w, invalidCause("malformed JSON", err)
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return w, invalidCause("malformed JSON", err)
		}
		name := tok.String() // tok is only valid until the next read
		var field *[]byte
		switch name {
		case "id":
			field = &w.ID
		case "type":
			field = &w.Type
		case "createdOn":
			field = &w.CreatedOn
		case "apiVersion":
			field = &w.APIVersion
		case "data":
			field = &w.Data
		}
		start := dec.InputOffset()
		if err := dec.SkipValue(); err != nil {
			return w, invalidCause("malformed JSON", err)
		}
		if field == nil {
			continue
		}
		if *field != nil {
			return w, invalid("duplicate field " + name)
		}
		*field = bytes.TrimLeft(body[start:dec.InputOffset()], " \t\r\n:")
	}
	if _, err := dec.ReadToken(); err != nil { // '}'
		return w, invalidCause("malformed JSON", err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return w, invalid("malformed JSON: data after the object")
	}
	return w, nil
}

// ParseEnvelope does the minimal parse the receiver needs and rejects
// anything that is not a Hardenize event: the body must be a JSON object
// with id (a non-negative integer of at most 20 digits, as a number or a
// digit string), type (a non-empty string of at most 128 bytes of valid
// UTF-8 without control characters), createdOn (RFC 3339) and data (an
// object, or a string whose content is valid JSON). apiVersion is optional.
// Unknown fields are ignored. The payload itself is not validated.
//
// Every error wraps ErrInvalidEvent and names the offending field.
func ParseEnvelope(body []byte) (Event, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return Event{}, invalid("empty body")
	}
	if trimmed[0] != '{' {
		return Event{}, invalid("not a JSON object")
	}
	w, err := scanEnvelope(body)
	if err != nil {
		return Event{}, err
	}

	var ev Event
	if ev.ID, err = parseID(w.ID); err != nil {
		return Event{}, err
	}
	if ev.Type, err = parseType(w.Type); err != nil {
		return Event{}, err
	}
	if ev.CreatedOn, err = parseCreatedOn(w.CreatedOn); err != nil {
		return Event{}, err
	}
	if !isMissing(w.APIVersion) {
		if ev.APIVersion, err = unquote(w.APIVersion); err != nil {
			return Event{}, invalidCause("apiVersion must be a string", err)
		}
	}
	if ev.Data, err = parseData(w.Data); err != nil {
		return Event{}, err
	}
	return ev, nil
}

func isMissing(raw []byte) bool {
	return len(raw) == 0 || string(raw) == jsonNullText
}

func parseID(raw []byte) (string, error) {
	if isMissing(raw) {
		return "", invalid("missing id")
	}
	digits := raw
	switch c := raw[0]; {
	case c == '"':
		s, err := unquote(raw)
		if err != nil {
			return "", invalidCause("id must be an integer", err)
		}
		digits = []byte(s)
	case c == '-':
		return "", invalid("id must be non-negative")
	case c < '0' || c > '9':
		return "", invalid("id must be an integer")
	}
	if len(digits) == 0 {
		return "", invalid("id must not be empty")
	}
	if len(digits) > maxIDDigits {
		return "", invalid("id has more than 20 digits")
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", invalid("id must be a non-negative integer")
		}
	}
	// A digit string may carry leading zeros; drop them so that "010" and
	// 10 name the same event.
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	return string(digits), nil
}

func parseType(raw []byte) (string, error) {
	if isMissing(raw) {
		return "", invalid("missing type")
	}
	if raw[0] != '"' {
		return "", invalid("type must be a string")
	}
	// Invalid UTF-8, raw or as an escaped lone surrogate, is an error of
	// unquote; U+FFFD is refused below as well, since the type becomes a
	// subject token and a metric label.
	s, err := unquote(raw)
	if err != nil {
		return "", invalid("type is not valid UTF-8")
	}
	switch {
	case s == "":
		return "", invalid("empty type")
	case len(s) > maxTypeLen:
		return "", invalid("type longer than 128 bytes")
	}
	for _, r := range s {
		if r == utf8.RuneError {
			return "", invalid("type is not valid UTF-8")
		}
		if unicode.IsControl(r) {
			return "", invalid("type contains a control character")
		}
	}
	return s, nil
}

func parseCreatedOn(raw []byte) (time.Time, error) {
	if isMissing(raw) {
		return time.Time{}, invalid("missing createdOn")
	}
	if raw[0] != '"' {
		return time.Time{}, invalid("createdOn must be a string")
	}
	s, err := unquote(raw)
	if err != nil {
		return time.Time{}, invalidCause("createdOn must be a string", err)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalidCause("createdOn is not RFC 3339", err)
	}
	return t.UTC(), nil
}

// unquote decodes a JSON string literal; anything else, and invalid UTF-8,
// is an error.
func unquote(raw []byte) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	s, err := jsontext.AppendUnquote(nil, raw)
	return string(s), err
}

func parseData(raw []byte) (json.RawMessage, error) {
	if isMissing(raw) {
		return nil, invalid("missing data")
	}
	switch raw[0] {
	case '{':
		return raw, nil
	case '"':
		inner, err := jsontext.AppendUnquote(nil, raw)
		if err != nil {
			return nil, invalidCause("data must be a string", err)
		}
		if !json.Valid(inner) {
			return nil, invalid("data string does not hold valid JSON")
		}
		return bytes.TrimSpace(inner), nil
	default:
		return nil, invalid("data must be an object or a string holding JSON")
	}
}
