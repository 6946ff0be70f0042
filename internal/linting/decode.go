package linting

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/rules"
)

// errInvalid marks an event the stage cannot read. The event writer consumes the same event and
// dead-letters it (invalid_envelope, invalid_payload); the stage acknowledges it, so that one bad
// event is one dead letter, not two.
var errInvalid = errors.New("not a readable event")

// key is what deciding whether a message's certificate is due needs: its SHA-256, read without
// decoding the certificate.
func key(m dispatch.Message) (events.Event, string, error) {
	ev := m.Event
	if ev.Type == "" {
		var err error
		if ev, err = events.ParseEnvelope(m.Data); err != nil {
			return events.Event{}, "", fmt.Errorf("%w: %w", errInvalid, err)
		}
	}
	raw, err := payloadSHA256(ev.Data)
	if err != nil {
		return events.Event{}, "", fmt.Errorf("%w: %s data: %w", errInvalid, ev.Type, err)
	}
	sha := strings.ToLower(raw)
	if len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		return events.Event{}, "", fmt.Errorf("%w: %s sha256 %q is not 64 hex digits", errInvalid, ev.Type, raw)
	}
	return ev, sha, nil
}

// payloadSHA256 reads the sha256 member of a JSON object, stopping there: Hardenize puts it before
// the certificate's DER (a CT entry's chain, a pki.cert.new's pem), so the DER, most of the
// payload, is not even scanned for a certificate already linted. Were the member given twice, the
// first would be taken here; the full decode of a certificate to lint is the one that counts.
func payloadSHA256(data []byte) (string, error) {
	d := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return "", errors.Join(errors.New("not a JSON object"), err)
	}
	for d.PeekKind() == '"' {
		name, err := d.ReadToken()
		if err != nil {
			return "", err
		}
		if name.String() != "sha256" {
			if err := d.SkipValue(); err != nil {
				return "", err
			}
			continue
		}
		v, err := d.ReadToken()
		if err != nil {
			return "", err
		}
		if v.Kind() != '"' {
			return "", errors.New("sha256 is not a string")
		}
		return v.String(), nil
	}
	return "", errors.New("sha256 missing")
}

// subject is a certificate to lint: its DER and what the policy needs to judge it.
type subject struct {
	der  []byte
	cert rules.Cert
}

// decode reads the certificate of an event of type typ fully, as the event writer does (its
// fingerprint checked against the DER): the DER is a CT entry's chain[0] or a pki.cert.new's pem.
func decode(typ string, ev events.Event) (subject, error) {
	var (
		b64  string
		cert rules.Cert
	)
	switch typ {
	case events.TypeCTEntry:
		e, leaf, parseErr, err := events.DecodeCTEntry(ev)
		if err != nil {
			return subject{}, fmt.Errorf("%w: %w", errInvalid, err)
		}
		b64, cert = e.Chain[0], rules.FromCTEntry(e, leaf, parseErr)
	case events.TypeCertNew:
		c, parsed, parseErr, err := events.DecodeCertificate(ev)
		if err != nil {
			return subject{}, fmt.Errorf("%w: %w", errInvalid, err)
		}
		b64, cert = c.PEM, rules.FromCertificate(c, parsed, parseErr)
	default:
		return subject{}, fmt.Errorf("%w: type %q holds no certificate", errInvalid, typ)
	}
	der, err := base64.StdEncoding.DecodeString(b64) // checked by the decoder
	if err != nil {
		return subject{}, fmt.Errorf("%w: %w", errInvalid, err)
	}
	return subject{der: der, cert: cert}, nil
}
