package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrMalformedSignature means the X-Hardenize-Signature header could not be parsed.
var ErrMalformedSignature = errors.New("malformed signature header")

const (
	// maxHeaderLen bounds the work done on a header from an unauthenticated
	// client; a genuine one is under 100 bytes.
	maxHeaderLen = 1024
	// maxTimestampDigits is the length of math.MaxInt64 in decimal.
	maxTimestampDigits = 19
	keyTimestamp       = "t"
	keyHMACSHA256      = "hmac-sha256"
)

// Signature is a parsed X-Hardenize-Signature value.
type Signature struct {
	// Timestamp is the signing time in unix milliseconds; always positive.
	Timestamp int64
	// MAC is the HMAC-SHA256 of the signed message; always 32 bytes.
	MAC []byte
}

// ParseSignature parses an X-Hardenize-Signature header value such as
// "t=1539185809044; hmac-sha256=64d3...6fd8".
//
// Parts are separated by ';' and may appear in any order with spaces around
// them; empty parts are skipped. Unknown keys are ignored so that Hardenize
// can add algorithms later, but exactly one t and one hmac-sha256 are
// required. Every error wraps [ErrMalformedSignature].
func ParseSignature(header string) (Signature, error) {
	if len(header) > maxHeaderLen {
		return Signature{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedSignature, maxHeaderLen)
	}
	var ts, mac string
	var haveTS, haveMAC bool
	for part := range strings.SplitSeq(header, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return Signature{}, fmt.Errorf("%w: part without '='", ErrMalformedSignature)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "":
			return Signature{}, fmt.Errorf("%w: part with an empty key", ErrMalformedSignature)
		case keyTimestamp:
			if haveTS {
				return Signature{}, fmt.Errorf("%w: duplicate %s", ErrMalformedSignature, keyTimestamp)
			}
			ts, haveTS = value, true
		case keyHMACSHA256:
			if haveMAC {
				return Signature{}, fmt.Errorf("%w: duplicate %s", ErrMalformedSignature, keyHMACSHA256)
			}
			mac, haveMAC = value, true
		}
	}
	if !haveTS {
		return Signature{}, fmt.Errorf("%w: missing %s", ErrMalformedSignature, keyTimestamp)
	}
	if !haveMAC {
		return Signature{}, fmt.Errorf("%w: missing %s", ErrMalformedSignature, keyHMACSHA256)
	}
	timestamp, err := parseTimestamp(ts)
	if err != nil {
		return Signature{}, err
	}
	if len(mac) != hex.EncodedLen(sha256.Size) {
		return Signature{}, fmt.Errorf("%w: %s must be %d hex digits", ErrMalformedSignature, keyHMACSHA256, hex.EncodedLen(sha256.Size))
	}
	sum, err := hex.DecodeString(mac)
	if err != nil {
		return Signature{}, fmt.Errorf("%w: %s is not hex", ErrMalformedSignature, keyHMACSHA256)
	}
	return Signature{Timestamp: timestamp, MAC: sum}, nil
}

// parseTimestamp accepts only plain decimal digits: strconv.ParseInt alone
// would also take a sign.
func parseTimestamp(s string) (int64, error) {
	if len(s) == 0 || len(s) > maxTimestampDigits {
		return 0, fmt.Errorf("%w: %s must be 1 to %d decimal digits", ErrMalformedSignature, keyTimestamp, maxTimestampDigits)
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %s must be decimal digits", ErrMalformedSignature, keyTimestamp)
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s out of range", ErrMalformedSignature, keyTimestamp)
	}
	if ts <= 0 {
		return 0, fmt.Errorf("%w: %s must be positive", ErrMalformedSignature, keyTimestamp)
	}
	return ts, nil
}

// Sign returns the X-Hardenize-Signature header value Hardenize would send
// for body signed with secret at t: "t=<ms>; hmac-sha256=<hex>".
func Sign(secret string, t time.Time, body []byte) string {
	ms := t.UnixMilli()
	return fmt.Sprintf("%s=%d; %s=%s", keyTimestamp, ms, keyHMACSHA256, hex.EncodeToString(computeMAC(secret, ms, body)))
}

// computeMAC signs the canonical decimal form of ts, so a header that spells
// the timestamp with leading zeros does not verify.
func computeMAC(secret string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(strconv.AppendInt(make([]byte, 0, maxTimestampDigits+1), ts, 10))
	m.Write([]byte{';'})
	m.Write(body)
	return m.Sum(nil)
}
