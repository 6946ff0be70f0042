package alerts

import (
	"time"

	"github.com/hzhook/hzhook/internal/rules"
)

// sampleAlert is a weakKey alert on a wildcard certificate whose names try Slack markup.
func sampleAlert() Alert {
	tbs := "bb00000000000000000000000000000000000000000000000000000000000000"
	f := rules.Finding{Type: rules.TypeWeakKey, TBSSHA256: tbs, SHA256: "aa" + tbs[2:], Detail: "RSA key of 1024 bits (minimum 2048)"}
	c := rules.Cert{
		SHA256: f.SHA256, TBSSHA256: tbs, Serial: "4242", Subject: "CN=*.example.com", Issuer: "CN=Some CA",
		IssuerCA: "Some CA", Hosts: []string{"*.example.com", "<!channel>.example.com"},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
	}
	return New(f, c, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}
