package events

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// addFixtureSeeds adds the committed fixtures (whole bodies, or their data
// when dataOnly) to the fuzz seed corpus.
func addFixtureSeeds(f *testing.F, dataOnly bool) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if !dataOnly {
			f.Add(body)
			continue
		}
		if ev, err := ParseEnvelope(body); err == nil {
			f.Add([]byte(ev.Data))
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	addFixtureSeeds(f, false)
	for _, s := range []string{
		seedTestEvent,
		`{"id":10001,"type":"ct","createdOn":"2023-09-22T15:34:49.714Z","apiVersion":"0.14.0","data":"{ \"field\": \"value\" }"}`,
		`{"id":"007","type":"x","createdOn":"2018-10-10T15:36:49+02:00","data":"[[\"a\"]]"}`,
		`{"id":-1,"type":"","createdOn":"","data":null}`,
		`{"id":1e3,"type":"te\ud800st","createdOn":"2018-10-10T15:36:49.044Z","data":""}`,
		`[[[[[[`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEnvelope(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error does not wrap ErrInvalidEvent: %v", err)
			}
			return
		}
		if ev.ID == "" || ev.Type == "" || ev.CreatedOn.IsZero() {
			t.Fatalf("accepted event with empty required field: %+v", ev)
		}
		// Workers read stored bodies with encoding/json: the one-pass scan
		// must never accept what it would refuse.
		if !json.Valid(body) {
			t.Fatalf("accepted a body encoding/json calls invalid: %q", body)
		}
		if !json.Valid(ev.Data) {
			t.Fatalf("accepted event with invalid data %q", ev.Data)
		}
	})
}

func FuzzDecodeCTEntry(f *testing.F) {
	addFixtureSeeds(f, true)
	f.Add([]byte(`{"log":"l","sha256":"00","tbsSha256":"00","chain":["AA=="]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entry, leaf, parseErr, err := DecodeCTEntry(Event{Type: TypeCTEntry, Data: data})
		if err != nil {
			var perm *PermanentError
			if !errors.As(err, &perm) {
				t.Fatalf("error is not permanent: %v", err)
			}
			if leaf != nil {
				t.Fatal("leaf returned with error")
			}
			return
		}
		if (leaf == nil) == (parseErr == nil) {
			t.Fatalf("want exactly one of leaf and parse error, got %v and %v", leaf != nil, parseErr)
		}
		if leaf == nil {
			return // stored as malformed: the hash was checked on the DER
		}
		if len(entry.Chain) == 0 || hexSum(leaf.Raw) != entry.SHA256 {
			t.Fatalf("accepted inconsistent entry %+v", entry)
		}
	})
}

func FuzzDecodeCertificate(f *testing.F) {
	addFixtureSeeds(f, true)
	f.Add([]byte(`{"sha256":"0000000000000000000000000000000000000000000000000000000000000000","serial":"1","notBefore":"2020-01-01T00:00:00Z","notAfter":"2021-01-01T00:00:00Z","pem":"AA=="}`))
	f.Add([]byte(`{"revokedOn":null,"ctLogs":[{"index":null}],"originInfo":{"x":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, parsed, parseErr, err := DecodeCertificate(Event{Type: TypeCertNew, Data: data})
		if err != nil {
			var perm *PermanentError
			if !errors.As(err, &perm) {
				t.Fatalf("error is not permanent: %v", err)
			}
			if parsed != nil || parseErr != nil {
				t.Fatal("parse results returned with error")
			}
			return
		}
		if (parsed == nil) == (parseErr == nil) {
			t.Fatalf("want exactly one of parsed and parseErr, got %v and %v", parsed != nil, parseErr)
		}
		if parsed != nil && hexSum(parsed.Raw) != c.SHA256 {
			t.Fatalf("parsed certificate does not match sha256 %s", c.SHA256)
		}
	})
}
