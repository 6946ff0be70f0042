package rules

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
)

var (
	// oidCTPoison marks a precertificate (RFC 6962 section 3.1).
	oidCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	// oidSCTList holds the SCTs embedded in the final certificate (RFC 6962 section 3.3).
	oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
)

func isPrecert(x *x509.Certificate) bool {
	for _, e := range x.Extensions {
		if e.Id.Equal(oidCTPoison) {
			return true
		}
	}
	return false
}

type extension struct {
	ID       asn1.ObjectIdentifier
	Critical bool `asn1:"optional"`
	Value    []byte
}

// IssuanceTBSSHA256 computes the tbsSha256 a precertificate and its certificate share: the
// SHA-256 of the TBSCertificate with the CT poison and embedded-SCT extensions removed. It is only
// a fallback for payloads that lack Hardenize's own tbsSha256: a precertificate signed by a
// dedicated precertificate signing CA carries that CA as issuer and does not yield the same value.
func IssuanceTBSSHA256(x *x509.Certificate) (string, error) {
	return issuanceTBSSHA256(x.RawTBSCertificate)
}

// issuanceTBSSHA256 is IssuanceTBSSHA256 of the DER of a TBSCertificate, as any parser gives it.
func issuanceTBSSHA256(rawTBS []byte) (string, error) {
	var tbs asn1.RawValue
	if rest, err := asn1.Unmarshal(rawTBS, &tbs); err != nil || len(rest) > 0 {
		return "", fmt.Errorf("tbs certificate: %w", errors.Join(err, errTrailing(rest)))
	}
	var out bytes.Buffer
	for rest := tbs.Bytes; len(rest) > 0; {
		var field asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &field); err != nil {
			return "", fmt.Errorf("tbs certificate field: %w", err)
		}
		if field.Class != asn1.ClassContextSpecific || field.Tag != 3 {
			out.Write(field.FullBytes)
			continue
		}
		exts, err := withoutCTExtensions(field.Bytes)
		if err != nil {
			return "", err
		}
		if exts != nil {
			out.Write(exts)
		}
	}
	der, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: out.Bytes()})
	if err != nil {
		return "", fmt.Errorf("tbs certificate: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// withoutCTExtensions re-encodes the [3] EXPLICIT Extensions field without the CT extensions;
// nil when none is left.
func withoutCTExtensions(explicit []byte) ([]byte, error) {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(explicit, &seq); err != nil {
		return nil, fmt.Errorf("extensions: %w", err)
	}
	var kept bytes.Buffer
	for rest := seq.Bytes; len(rest) > 0; {
		var raw asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &raw); err != nil {
			return nil, fmt.Errorf("extension: %w", err)
		}
		var e extension
		if _, err := asn1.Unmarshal(raw.FullBytes, &e); err != nil {
			return nil, fmt.Errorf("extension: %w", err)
		}
		if e.ID.Equal(oidCTPoison) || e.ID.Equal(oidSCTList) {
			continue
		}
		kept.Write(raw.FullBytes)
	}
	if kept.Len() == 0 {
		return nil, nil
	}
	inner, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: kept.Bytes()})
	if err != nil {
		return nil, fmt.Errorf("extensions: %w", err)
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 3, IsCompound: true, Bytes: inner})
}

func errTrailing(rest []byte) error {
	if len(rest) > 0 {
		return errors.New("trailing data")
	}
	return nil
}
