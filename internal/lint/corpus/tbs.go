package corpus

import (
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidCTPoison  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3} // RFC 6962 section 3.1
	oidSCTList   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2} // RFC 6962 section 3.3
	tagExtension = cbasn1.Tag(3).Constructed().ContextSpecific()           // [3] EXPLICIT Extensions
)

// TBSSHA256 is the hex SHA-256 of der's TBSCertificate with the CT poison and SCT list extensions
// removed (and the extensions field itself when nothing is left): the value a precertificate and
// the certificate issued from it share (RFC 6962 section 3.2). It is written with cryptobyte,
// independently of internal/rules' encoding/asn1 implementation, so tests can compare the two.
func TBSSHA256(der []byte) (string, error) {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !in.Empty() || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return "", errors.New("not a DER certificate")
	}
	var b cryptobyte.Builder
	var bad error
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for !tbs.Empty() {
			var field cryptobyte.String
			var tag cbasn1.Tag
			if !tbs.ReadAnyASN1Element(&field, &tag) {
				bad = errors.New("bad TBSCertificate field")
				return
			}
			if tag != tagExtension {
				b.AddBytes(field)
				continue
			}
			kept, err := keptExtensions(field)
			if err != nil {
				bad = err
				return
			}
			if len(kept) > 0 {
				b.AddASN1(tagExtension, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, e := range kept {
							b.AddBytes(e)
						}
					})
				})
			}
		}
	})
	if bad != nil {
		return "", bad
	}
	out, err := b.Bytes()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(out)
	return hex.EncodeToString(sum[:]), nil
}

// keptExtensions returns the whole DER of each extension in the [3] field but the CT ones.
func keptExtensions(field cryptobyte.String) ([][]byte, error) {
	var explicit, exts cryptobyte.String
	if !field.ReadASN1(&explicit, tagExtension) || !explicit.ReadASN1(&exts, cbasn1.SEQUENCE) {
		return nil, errors.New("bad extensions")
	}
	var kept [][]byte
	for !exts.Empty() {
		var ext, body cryptobyte.String
		if !exts.ReadASN1Element(&ext, cbasn1.SEQUENCE) {
			return nil, errors.New("bad extension")
		}
		var oid asn1.ObjectIdentifier
		body = ext
		if !body.ReadASN1(&body, cbasn1.SEQUENCE) || !body.ReadASN1ObjectIdentifier(&oid) {
			return nil, errors.New("bad extension id")
		}
		if oid.Equal(oidCTPoison) || oid.Equal(oidSCTList) {
			continue
		}
		kept = append(kept, ext)
	}
	return kept, nil
}
