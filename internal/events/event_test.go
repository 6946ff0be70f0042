package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedTestEvent is Hardenize's webhook test body, verbatim from the API docs.
const seedTestEvent = `{"id":0,"createdOn":"2018-10-10T15:36:49.044Z","type":"test","data":{"message":"This is a webhook test."}}`

func TestParseEnvelopeAccepts(t *testing.T) {
	created := time.Date(2018, 10, 10, 15, 36, 49, 44e6, time.UTC)
	tests := []struct {
		name string
		body string
		want Event
	}{
		{
			name: "seed webhook test event",
			body: seedTestEvent,
			want: Event{ID: "0", Type: TypeTest, CreatedOn: created, Data: json.RawMessage(`{"message":"This is a webhook test."}`)},
		},
		{
			name: "events API form with data as a JSON string",
			body: `{"id":10001,"type":"ct","createdOn":"2023-09-22T15:34:49.714Z","apiVersion":"0.14.0","data":"{ \"field\": \"value\" }"}`,
			want: Event{
				ID: "10001", Type: "ct", APIVersion: "0.14.0",
				CreatedOn: time.Date(2023, 9, 22, 15, 34, 49, 714e6, time.UTC),
				Data:      json.RawMessage(`{ "field": "value" }`),
			},
		},
		{
			name: "data string holding an array",
			body: `{"id":1,"type":"x","createdOn":"2018-10-10T15:36:49.044Z","data":" [1,2] "}`,
			want: Event{ID: "1", Type: "x", CreatedOn: created, Data: json.RawMessage(`[1,2]`)},
		},
		{
			name: "id as digit string",
			body: `{"id":"10001","type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`,
			want: Event{ID: "10001", Type: TypeTest, CreatedOn: created, Data: json.RawMessage(`{}`)},
		},
		{
			name: "id string with leading zeros is normalised",
			body: `{"id":"00042","type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`,
			want: Event{ID: "42", Type: TypeTest, CreatedOn: created, Data: json.RawMessage(`{}`)},
		},
		{
			name: "id of 20 digits",
			body: `{"id":18446744073709551615,"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`,
			want: Event{ID: "18446744073709551615", Type: TypeTest, CreatedOn: created, Data: json.RawMessage(`{}`)},
		},
		{
			name: "createdOn with offset is converted to UTC",
			body: `{"id":1,"type":"test","createdOn":"2018-10-10T17:36:49.044+02:00","data":{}}`,
			want: Event{ID: "1", Type: TypeTest, CreatedOn: created, Data: json.RawMessage(`{}`)},
		},
		{
			name: "unknown fields and unknown type are ignored",
			body: `{"future":[1,{"x":null}],"id":7,"type":"pki.cert.future","createdOn":"2018-10-10T15:36:49.044Z","data":{"a":1},"more":"x"}`,
			want: Event{ID: "7", Type: "pki.cert.future", CreatedOn: created, Data: json.RawMessage(`{"a":1}`)},
		},
		{
			name: "surrounding whitespace",
			body: "\n  " + seedTestEvent + "\r\n",
			want: Event{ID: "0", Type: TypeTest, CreatedOn: created, Data: json.RawMessage(`{"message":"This is a webhook test."}`)},
		},
		{
			name: "unicode type",
			body: `{"id":1,"type":"évé.nt","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`,
			want: Event{ID: "1", Type: "évé.nt", CreatedOn: created, Data: json.RawMessage(`{}`)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnvelope([]byte(tc.body))
			require.NoError(t, err)
			assert.Equal(t, tc.want.ID, got.ID)
			assert.Equal(t, tc.want.Type, got.Type)
			assert.Equal(t, tc.want.APIVersion, got.APIVersion)
			assert.True(t, tc.want.CreatedOn.Equal(got.CreatedOn), "createdOn %s", got.CreatedOn)
			assert.Equal(t, time.UTC, got.CreatedOn.Location())
			assert.Equal(t, string(tc.want.Data), string(got.Data))
		})
	}
}

func TestParseEnvelopeRejects(t *testing.T) {
	const ok = `"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":{}`
	tests := []struct {
		name    string
		body    string
		wantMsg string // substring of the error
	}{
		{"empty body", ``, "empty body"},
		{"whitespace body", " \n", "empty body"},
		{"array", `[` + seedTestEvent + `]`, "not a JSON object"},
		{"number", `42`, "not a JSON object"},
		{"string", `"x"`, "not a JSON object"},
		{"truncated JSON", seedTestEvent[:40], "malformed JSON"},
		{"trailing garbage", seedTestEvent + `x`, "malformed JSON"},
		{"two objects", seedTestEvent + seedTestEvent, "malformed JSON"},
		{"deeply nested arrays", strings.Repeat("[", 10000), "not a JSON object"},
		{"deeply nested inside object", `{"id":1,` + ok[1:] + `,"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, "malformed JSON"},
		{"missing id", `{` + ok + `}`, "missing id"},
		{"id named in another case", `{"ID":1,` + ok + `}`, "missing id"},
		{"duplicate id", `{"id":1,"id":2,` + ok + `}`, "duplicate field id"},
		{"duplicate data", `{"id":1,` + ok + `,"data":{"x":1}}`, "duplicate field data"},
		{"bad JSON in an unknown field", `{"id":1,` + ok + `,"x":[1,}`, "malformed JSON"},
		{"bad JSON in data", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":{"a":tru}}`, "malformed JSON"},
		{"null id", `{"id":null,` + ok + `}`, "missing id"},
		{"negative id", `{"id":-1,` + ok + `}`, "id must be non-negative"},
		{"negative zero id", `{"id":-0,` + ok + `}`, "id must be non-negative"},
		{"float id", `{"id":1.5,` + ok + `}`, "id must be a non-negative integer"},
		{"integral float id", `{"id":1.0,` + ok + `}`, "id must be a non-negative integer"},
		{"exponent id", `{"id":1e3,` + ok + `}`, "id must be a non-negative integer"},
		{"huge id", `{"id":123456789012345678901,` + ok + `}`, "more than 20 digits"},
		{"huge id string", `{"id":"123456789012345678901",` + ok + `}`, "more than 20 digits"},
		{"empty id string", `{"id":"",` + ok + `}`, "id must not be empty"},
		{"negative id string", `{"id":"-1",` + ok + `}`, "id must be a non-negative integer"},
		{"id string with space", `{"id":" 1",` + ok + `}`, "id must be a non-negative integer"},
		{"bool id", `{"id":true,` + ok + `}`, "id must be an integer"},
		{"object id", `{"id":{},` + ok + `}`, "id must be an integer"},
		{"missing type", `{"id":1,"createdOn":"2018-10-10T15:36:49.044Z","data":{}}`, "missing type"},
		{"empty type", `{"id":1,"type":"","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`, "empty type"},
		{"numeric type", `{"id":1,"type":5,"createdOn":"2018-10-10T15:36:49.044Z","data":{}}`, "type must be a string"},
		{"long type", `{"id":1,"type":"` + strings.Repeat("a", 129) + `","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`, "longer than 128 bytes"},
		{"control char in type", `{"id":1,"type":"te\nst","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`, "control character"},
		{"escaped NUL in type", `{"id":1,"type":"te\u0000st","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`, "control character"},
		{"invalid UTF-8 in type", "{\"id\":1,\"type\":\"te\xffst\",\"createdOn\":\"2018-10-10T15:36:49.044Z\",\"data\":{}}", "not valid UTF-8"},
		{"lone surrogate in type", `{"id":1,"type":"te\ud800st","createdOn":"2018-10-10T15:36:49.044Z","data":{}}`, "not valid UTF-8"},
		{"missing createdOn", `{"id":1,"type":"test","data":{}}`, "missing createdOn"},
		{"numeric createdOn", `{"id":1,"type":"test","createdOn":1539185809044,"data":{}}`, "createdOn must be a string"},
		{"bad createdOn", `{"id":1,"type":"test","createdOn":"10/10/2018","data":{}}`, "createdOn is not RFC 3339"},
		{"createdOn without zone", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044","data":{}}`, "createdOn is not RFC 3339"},
		{"numeric apiVersion", `{"id":1,` + ok + `,"apiVersion":1}`, "apiVersion must be a string"},
		{"missing data", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044Z"}`, "missing data"},
		{"null data", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":null}`, "missing data"},
		{"data string not JSON", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":"hello"}`, "data string does not hold valid JSON"},
		{"data empty string", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":""}`, "data string does not hold valid JSON"},
		{"data string nested too deep", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":"` + strings.Repeat("[", 20000) + `"}`, "data string does not hold valid JSON"},
		{"data array", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":[]}`, "data must be an object"},
		{"data number", `{"id":1,"type":"test","createdOn":"2018-10-10T15:36:49.044Z","data":3}`, "data must be an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := ParseEnvelope([]byte(tc.body))
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalidEvent)
			assert.Contains(t, err.Error(), tc.wantMsg)
			assert.True(t, strings.HasPrefix(err.Error(), "invalid event: "), err.Error())
			assert.Equal(t, Event{}, ev)
			var perm *PermanentError
			assert.False(t, errors.As(err, &perm), "envelope errors are not payload errors")
		})
	}
}

func TestParseEnvelopeDataIsSliceOfBody(t *testing.T) {
	body := []byte(seedTestEvent)
	ev, err := ParseEnvelope(body)
	require.NoError(t, err)
	require.JSONEq(t, `{"message":"This is a webhook test."}`, string(ev.Data))
	assert.Equal(t, string(body[len(body)-len(ev.Data)-1:len(body)-1]), string(ev.Data))
	assert.Same(t, &body[len(body)-len(ev.Data)-1], &ev.Data[0], "the object form is not copied")
}

func TestParseEnvelopeTestMessage(t *testing.T) {
	ev, err := ParseEnvelope([]byte(seedTestEvent))
	require.NoError(t, err)
	var msg TestMessage
	require.NoError(t, json.Unmarshal(ev.Data, &msg))
	assert.Equal(t, "This is a webhook test.", msg.Message)
}

func BenchmarkParseEnvelope(b *testing.B) {
	body, err := Sample(TypeCTEntry, 10001, time.Now())
	require.NoError(b, err)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEnvelope(body); err != nil {
			b.Fatal(err)
		}
	}
}
