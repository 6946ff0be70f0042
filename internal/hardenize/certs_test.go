package hardenize_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
)

// addCert generates a certificate for spec and adds it to the fake's account at addedOn.
func addCert(t *testing.T, api *hardenizetest.Server, spec hardenizetest.CertSpec, addedOn time.Time) events.Certificate {
	t.Helper()
	c, err := hardenizetest.NewCert(spec)
	require.NoError(t, err)
	require.NoError(t, api.AddCert(c, addedOn))
	return c
}

func shas(recs []hardenize.CertRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Certificate.SHA256
	}
	return out
}

func TestListCertsFilters(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	now := time.Now()
	t0 := now.Add(-48 * time.Hour)
	active := addCert(t, api, hardenizetest.CertSpec{Hosts: []string{"www.example.com"}, Active: true}, t0)
	wildcard := addCert(t, api, hardenizetest.CertSpec{Hosts: []string{"*.example.net", "example.net"}}, t0.Add(time.Hour))
	expired := addCert(t, api, hardenizetest.CertSpec{Hosts: []string{"old.example.com"}, NotBefore: now.AddDate(0, 0, -100), NotAfter: now.AddDate(0, 0, -10)}, t0.Add(2*time.Hour))
	expiring := addCert(t, api, hardenizetest.CertSpec{Hosts: []string{"soon.example.com"}, NotBefore: now.AddDate(0, 0, -85), NotAfter: now.AddDate(0, 0, 5)}, now.Add(-time.Hour))
	c, _ := newClient(t, api.BaseURL(), api.Credentials())

	tests := []struct {
		name string
		q    hardenize.CertsQuery
		want []events.Certificate
	}{
		{"no filter lists all in the order added", hardenize.CertsQuery{}, []events.Certificate{active, wildcard, expired, expiring}},
		{"limit", hardenize.CertsQuery{Limit: 2}, []events.Certificate{active, wildcard}},
		{"newSince", hardenize.CertsQuery{NewSince: t0.Add(90 * time.Minute)}, []events.Certificate{expired, expiring}},
		{"host exact", hardenize.CertsQuery{Host: "www.example.com"}, []events.Certificate{active}},
		{"host matched by wildcard", hardenize.CertsQuery{Host: "blog.example.net"}, []events.Certificate{wildcard}},
		{"host not matched by a wildcard two levels up", hardenize.CertsQuery{Host: "a.blog.example.net"}, nil},
		{"active", hardenize.CertsQuery{Active: new(true)}, []events.Certificate{active}},
		{"inactive", hardenize.CertsQuery{Active: new(false)}, []events.Certificate{wildcard, expired, expiring}},
		{"expired", hardenize.CertsQuery{Expired: new(true)}, []events.Certificate{expired}},
		{"not expired", hardenize.CertsQuery{Expired: new(false)}, []events.Certificate{active, wildcard, expiring}},
		{"expired or expiring within 7 days", hardenize.CertsQuery{ExpireInDays: new(7)}, []events.Certificate{expired, expiring}},
		{"spki, any case", hardenize.CertsQuery{SPKISHA256: strings.ToUpper(wildcard.SPKISHA256)}, []events.Certificate{wildcard}},
		{"filters combine with and", hardenize.CertsQuery{Expired: new(false), NewSince: t0.Add(30 * time.Minute)}, []events.Certificate{wildcard, expiring}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			got, err := c.ListCerts(context.Background(), tc.q)
			require.NoError(t, err)
			assert.Empty(t, got.Rejected)
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = w.SHA256
			}
			assert.Equal(t, want, shas(got.Certs))
			assert.WithinRange(t, got.AsOf, before, time.Now())
		})
	}

	t.Run("records keep the raw object and the parsed certificate", func(t *testing.T) {
		got, err := c.ListCerts(context.Background(), hardenize.CertsQuery{Host: "www.example.com"})
		require.NoError(t, err)
		require.Len(t, got.Certs, 1)
		rec := got.Certs[0]
		assert.Equal(t, active.Hosts, rec.Certificate.Hosts)
		assert.True(t, rec.Certificate.Active)
		require.NotNil(t, rec.X509)
		assert.Equal(t, []string{"www.example.com"}, rec.X509.DNSNames)
		assert.NoError(t, rec.ParseErr)
		assert.Contains(t, string(rec.Raw), `"sha256":"`+active.SHA256+`"`)
	})
}

func TestListCertsBadParameters(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	c, _ := newClient(t, api.BaseURL(), api.Credentials())
	tests := []struct {
		name string
		q    hardenize.CertsQuery
		want string
	}{
		{"negative limit", hardenize.CertsQuery{Limit: -1}, "list certificates: limit is negative"},
		{"negative expireInDays", hardenize.CertsQuery{ExpireInDays: new(-1)}, "list certificates: expireInDays is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListCerts(context.Background(), tc.q)
			require.EqualError(t, err, tc.want)
		})
	}
	assert.Zero(t, api.Requests("certs"), "refused before any request")
}

func TestGetCert(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	known := addCert(t, api, hardenizetest.CertSpec{}, time.Now())
	c, _ := newClient(t, api.BaseURL(), api.Credentials())
	ctx := context.Background()

	tests := []struct {
		name         string
		sha256       string
		wantErr      string
		wantNotFound bool
		wantRequest  bool
	}{
		{name: "known", sha256: known.SHA256, wantRequest: true},
		{name: "known, upper case", sha256: strings.ToUpper(known.SHA256), wantRequest: true},
		{name: "unknown", sha256: strings.Repeat("ab", 32), wantRequest: true, wantNotFound: true,
			wantErr: "get certificate " + strings.Repeat("ab", 32) + ": GET certs/" + strings.Repeat("ab", 32) + ": hardenize api: 404 Not Found: certificate not found"},
		{name: "not a sha256", sha256: "abc", wantErr: `get certificate "abc": not a hex SHA-256 (64 hex digits)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := api.Requests("certs")
			rec, err := c.GetCert(ctx, tc.sha256)
			if tc.wantRequest {
				assert.Equal(t, before+1, api.Requests("certs"))
			} else {
				assert.Equal(t, before, api.Requests("certs"))
			}
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				assert.Equal(t, tc.wantNotFound, hardenize.IsNotFound(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, known.SHA256, rec.Certificate.SHA256)
			assert.Equal(t, known.SPKISHA256, rec.Certificate.SPKISHA256)
			require.NotNil(t, rec.X509)
		})
	}
}

// TestCertChangesNeedFullListing pins down what the seed says of newSince: "returns only
// certificates added to the account since the specified date". A certificate revoked after it was
// added is not new, so a newSince sync never sees the revocation; a full listing (or GET
// /certs/{sha256}) does.
func TestCertChangesNeedFullListing(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	api.SetRowsPerPage(2)
	c, _ := newClient(t, api.BaseURL(), api.Credentials())
	ctx := context.Background()
	const overlap = 5 * time.Minute

	cert := addCert(t, api, hardenizetest.CertSpec{Active: true}, time.Now().Add(-time.Hour))
	first, err := c.ListCerts(ctx, hardenize.CertsQuery{NewSince: time.Now().Add(-2 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, []string{cert.SHA256}, shas(first.Certs))
	assert.Nil(t, first.Certs[0].Certificate.RevokedOn)

	revoked := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, api.UpdateCert(cert.SHA256, func(c *events.Certificate) { c.RevokedOn, c.Active = &revoked, false }))
	newer := addCert(t, api, hardenizetest.CertSpec{}, time.Now())

	second, err := c.ListCerts(ctx, hardenize.CertsQuery{NewSince: first.AsOf.Add(-overlap)})
	require.NoError(t, err)
	assert.Equal(t, []string{newer.SHA256}, shas(second.Certs), "newSince returns additions, not the revoked certificate")

	var all []hardenize.CertRecord
	for page, err := range c.ListCertsPages(ctx, hardenize.ListCertsQuery{}, hardenize.CertCursor{}, nil) {
		require.NoError(t, err)
		all = append(all, page.Certs...)
	}
	require.Equal(t, []string{cert.SHA256, newer.SHA256}, shas(all))
	require.NotNil(t, all[0].Certificate.RevokedOn, "a full listing carries the change")
	assert.Equal(t, revoked, all[0].Certificate.RevokedOn.UTC())
	assert.False(t, all[0].Certificate.Active)

	got, err := c.GetCert(ctx, cert.SHA256)
	require.NoError(t, err)
	require.NotNil(t, got.Certificate.RevokedOn)
}
