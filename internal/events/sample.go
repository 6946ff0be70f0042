package events

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Sample values: what a Hardenize account watching example.com would see.
const (
	sampleLog        = "ct.googleapis.com/icarus" // the seed's example log
	sampleAPIVersion = "0.14.0"
	sampleLeafDN     = "CN=www.example.com"
	sampleIssuerDN   = "CN=hzhook Sample Root CA, O=hzhook"
	sampleTestText   = "This is a webhook test."
	createdOnLayout  = "2006-01-02T15:04:05.000Z07:00" // Hardenize's millisecond form
)

// Sample builds a complete, valid webhook body of type TypeTest,
// TypeCTEntry or TypeCertNew, with the given event id and createdOn. It is
// what `hzctl send` posts and what other packages' tests feed the pipeline.
//
// Each call generates a fresh ECDSA P-256 root and a leaf for
// www.example.com and example.com, so bodies never share a certificate.
// The payload is self-consistent: sha256 is the leaf DER's hash, tbsSha256
// the hash of its TBSCertificate, hosts its SANs; a ct.entry chain is
// [leaf, root]. The test body matches Hardenize's webhook test exactly
// (no apiVersion). Sample is safe for concurrent use.
func Sample(eventType string, id int64, now time.Time) ([]byte, error) {
	if id < 0 {
		return nil, errors.New("sample: negative id")
	}
	now = now.UTC().Truncate(time.Millisecond)
	env := sampleEnvelope{ID: id, CreatedOn: now.Format(createdOnLayout), Type: eventType}

	switch eventType {
	case TypeTest:
		env.Data = TestMessage{Message: sampleTestText}
	case TypeCTEntry, TypeCertNew:
		env.APIVersion = sampleAPIVersion
		chain, err := newSampleChain(now, []string{"www.example.com", "example.com"})
		if err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
		if eventType == TypeCTEntry {
			env.Data = chain.ctEntry(id, now)
		} else {
			env.Data = chain.certificate(id, now)
		}
	default:
		return nil, fmt.Errorf("sample: unsupported event type %q", eventType)
	}

	body, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	return body, nil
}

type sampleEnvelope struct {
	ID         int64  `json:"id"`
	CreatedOn  string `json:"createdOn"`
	Type       string `json:"type"`
	APIVersion string `json:"apiVersion,omitempty"`
	Data       any    `json:"data"`
}

type sampleChain struct {
	leaf      *x509.Certificate
	leafDER   []byte
	issuerDER []byte
}

func newSampleChain(now time.Time, hosts []string) (sampleChain, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return sampleChain{}, fmt.Errorf("generate root key: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return sampleChain{}, fmt.Errorf("generate leaf key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "hzhook Sample Root CA", Organization: []string{"hzhook"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return sampleChain{}, fmt.Errorf("create root: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return sampleChain{}, fmt.Errorf("parse root: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(0, 0, 90),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return sampleChain{}, fmt.Errorf("create leaf: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return sampleChain{}, fmt.Errorf("parse leaf: %w", err)
	}
	return sampleChain{leaf: leaf, leafDER: leafDER, issuerDER: caDER}, nil
}

// randomSerial returns a positive 127-bit serial. crypto/rand.Read never
// fails on supported platforms (Go 1.24+ crashes rather than return an error).
func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] &= 0x7f
	b[0] |= 0x01 // keep 16 bytes so serials look like real ones
	return new(big.Int).SetBytes(b)
}

func (c sampleChain) ctEntry(id int64, now time.Time) MatchedCtEntry {
	return MatchedCtEntry{
		Log:          sampleLog,
		Index:        id,
		Timestamp:    now.UnixMilli(),
		SHA256:       hexSHA256(c.leafDER),
		TBSSHA256:    hexSHA256(c.leaf.RawTBSCertificate),
		Subject:      sampleLeafDN,
		Issuer:       sampleIssuerDN,
		Hosts:        c.leaf.DNSNames,
		Chain:        []string{base64.StdEncoding.EncodeToString(c.leafDER), base64.StdEncoding.EncodeToString(c.issuerDER)},
		MatchedHosts: []string{"example.com"},
	}
}

func (c sampleChain) certificate(id int64, now time.Time) Certificate {
	yes, no := true, false
	return Certificate{
		SHA256:            hexSHA256(c.leafDER),
		TBSSHA256:         hexSHA256(c.leaf.RawTBSCertificate),
		Subject:           sampleLeafDN,
		Serial:            hex.EncodeToString(c.leaf.SerialNumber.Bytes()),
		Issuer:            sampleIssuerDN,
		Validation:        "dv",
		NotBefore:         c.leaf.NotBefore,
		NotAfter:          c.leaf.NotAfter,
		EffectiveNotAfter: c.leaf.NotAfter,
		KeyAlg:            "EC",
		KeyLen:            256,
		KeyStrength:       128,
		SigAlg:            "ECDSAwithSHA256",
		SPKISHA256:        hexSHA256(c.leaf.RawSubjectPublicKeyInfo),
		Hosts:             c.leaf.DNSNames,
		SANCount:          len(c.leaf.DNSNames),
		CAPathLen:         -1,
		FirstSeen:         now,
		LastSeen:          now,
		Ownership:         "own",
		MatchesOrgHost:    true,
		CTRequired:        &yes,
		CTCompliant:       &no,
		CTLogs: []CertCtLog{{
			Log: sampleLog, Timestamp: now.UnixMilli(), Index: &id, Type: "cert", Sources: []string{"log"},
		}},
		PEM:                  base64.StdEncoding.EncodeToString(c.leafDER),
		Origin:               "ct",
		ParentHashes:         []string{hexSHA256(c.issuerDER)},
		ParentHashesSource:   "ct",
		ParentHashesComplete: &yes,
	}
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
