package events

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

var (
	errNotHex      = errors.New("not hex")
	errNotSHA256   = errors.New("not a hex SHA-256 (64 hex digits)")
	errFingerprint = errors.New("SHA-256 of the DER does not match")
)

// normaliseSHA256 lowercases a hex SHA-256 fingerprint and checks its shape.
func normaliseSHA256(s string) (string, error) {
	if len(s) != sha256.Size*2 {
		return "", errNotSHA256
	}
	if !isHex(s) {
		return "", errNotSHA256
	}
	return strings.ToLower(s), nil
}

// normaliseHex lowercases a non-empty hex string of any length (serials).
func normaliseHex(s string) (string, error) {
	if s == "" || !isHex(s) {
		return "", errNotHex
	}
	return strings.ToLower(s), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// decodeDER decodes standard base64 (Hardenize's encoding of DER) and checks
// that its SHA-256 equals wantSHA256, which must already be normalised.
func decodeDER(b64, wantSHA256 string) ([]byte, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	if len(der) == 0 {
		return nil, errors.New("empty")
	}
	if wantSHA256 != "" {
		sum := sha256.Sum256(der)
		if got := hex.EncodeToString(sum[:]); got != wantSHA256 {
			return nil, fmt.Errorf("%w: got %s, want %s", errFingerprint, got, wantSHA256)
		}
	}
	return der, nil
}
