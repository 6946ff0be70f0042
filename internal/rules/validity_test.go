package rules

import (
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
)

func TestValidityTooLong(t *testing.T) {
	ca := newCA(t, "CA")
	policy := mustParse(t, "")
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	noExpiry := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) // RFC 5280: no well-defined expiration
	tests := []struct {
		name string
		o    leafOpts
		want bool
	}{
		// 39 months before the 825-day limit, by calendar months as zlint counts them.
		{"39 months exactly, 2017", leafOpts{notBefore: at(2017, 6, 1), notAfter: at(2020, 9, 1)}, false},
		{"39 months and a second, 2017", leafOpts{notBefore: at(2017, 6, 1), notAfter: at(2020, 9, 1).Add(time.Second)}, true},
		{"900 days on 1 March 2018: still 39 months", leafOpts{notBefore: day(2018, 3, 1), days: 900}, false},
		{"900 days on 2 March 2018: 825 days", leafOpts{notBefore: day(2018, 3, 2), days: 900}, true},
		{"825 days to the second, 2019", leafOpts{notBefore: at(2019, 1, 1), notAfter: at(2019, 1, 1).AddDate(0, 0, 825)}, false},
		{"825 days and a second, 2019", leafOpts{notBefore: at(2019, 1, 1), notAfter: at(2019, 1, 1).AddDate(0, 0, 825).Add(time.Second)}, true},
		{"500 days on 31 August 2020", leafOpts{notBefore: day(2020, 8, 31), days: 500}, false},
		{"500 days on 1 September 2020", leafOpts{notBefore: day(2020, 9, 1), days: 500}, true},
		{"398 days inclusive, 2021", leafOpts{notBefore: day(2021, 1, 1), days: 398}, false},
		{"398 days and a second, 2021", leafOpts{notBefore: at(2021, 1, 1), notAfter: at(2021, 1, 1).AddDate(0, 0, 398)}, true},
		// Past 292 years a time.Duration overflows; the limits compare instants.
		{"until 9999, 2021", leafOpts{notBefore: day(2021, 1, 1), notAfter: noExpiry}, true},
		{"until 9999, 2030", leafOpts{notBefore: day(2030, 1, 1), notAfter: noExpiry}, true},
		{"notBefore 00010101000000Z until 9999", leafOpts{notBefore: time.Time{}.Add(time.Second), notAfter: noExpiry}, true},
		// Only TLS subscriber certificates have a limit.
		{"CA certificate until 9999", leafOpts{notBefore: day(2021, 1, 1), notAfter: noExpiry, isCA: true}, false},
		{"client certificate for 10 years", leafOpts{notBefore: day(2021, 1, 1), days: 3650, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, false},
		{"any purpose for 10 years", leafOpts{notBefore: day(2021, 1, 1), days: 3650, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}, true},
		{"no extended key usage for 10 years", leafOpts{notBefore: day(2021, 1, 1), days: 3650, eku: []x509.ExtKeyUsage{}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			der := issue(t, ca, tc.o)
			ct := FromCTEntry(ctEntry(t, der, "log", ca), parse(t, der), nil)
			assert.Equal(t, tc.want, hasType(policy.Evaluate(ct), TypeValidityTooLong), "ct.entry")

			data, err := json.Marshal(certificate(t, der, "CA", ca))
			require.NoError(t, err)
			p, parsed, parseErr, err := events.DecodeCertificate(events.Event{ID: "1", Type: events.TypeCertNew, Data: data})
			require.NoError(t, err, "pki.cert.new is decoded, never dead-lettered")
			require.NoError(t, parseErr)
			assert.Equal(t, tc.want, hasType(policy.Evaluate(FromCertificate(p, parsed, nil)), TypeValidityTooLong), "pki.cert.new")
		})
	}
}

func TestValidityZeroNotBeforeIsNotUnknown(t *testing.T) {
	// Go's zero time is a real notBefore (00010101000000Z), not an absent one.
	c := Cert{NotBefore: time.Time{}, NotAfter: time.Date(9998, 11, 30, 0, 0, 0, 0, time.UTC), ValidityKnown: true}
	assert.True(t, hasType(mustParse(t, "").Evaluate(c), TypeValidityTooLong))
	c.ValidityKnown = false // a Cert filled by hand without a notBefore
	assert.False(t, hasType(mustParse(t, "").Evaluate(c), TypeValidityTooLong))
}

func TestMaxValidity(t *testing.T) {
	tests := []struct {
		notBefore time.Time
		want      string
		lint      string
	}{
		{time.Time{}, "39 months", "e_sub_cert_valid_time_longer_than_39_months"},
		{day(2016, 7, 1), "39 months", "e_sub_cert_valid_time_longer_than_39_months"},
		{day(2018, 3, 1), "39 months", "e_sub_cert_valid_time_longer_than_39_months"},
		{day(2018, 3, 2), "825 days", "e_sub_cert_valid_time_longer_than_825_days"},
		{day(2020, 8, 31), "825 days", "e_sub_cert_valid_time_longer_than_825_days"},
		{time.Date(2020, 9, 1, 0, 0, 0, 0, time.UTC), "398 days", "e_tls_server_cert_valid_time_longer_than_398_days"},
		{day(2026, 3, 14), "398 days", "e_tls_server_cert_valid_time_longer_than_398_days"},
		{time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), "200 days", "e_server_cert_valid_time_longer_than_200_days"},
		{day(2027, 3, 15), "100 days", "e_server_cert_valid_time_longer_than_100_days"},
		{day(2029, 3, 15), "47 days", "e_server_cert_valid_time_longer_than_47_days"},
		{day(9000, 1, 1), "47 days", "e_server_cert_valid_time_longer_than_47_days"},
	}
	for _, tc := range tests {
		l := MaxValidity(tc.notBefore)
		assert.Equal(t, tc.want, l.String(), tc.notBefore.String())
		assert.Equal(t, tc.lint, l.Lint, tc.notBefore.String())
	}
}

func hasType(fs []Finding, typ Type) bool {
	for _, f := range fs {
		if f.Type == typ {
			return true
		}
	}
	return false
}
