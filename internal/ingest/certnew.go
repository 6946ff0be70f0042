package ingest

import (
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/rules"
)

// certNew builds the change of a pki.cert.new: the full certificate row, its payload kept as
// received. DER that crypto/x509 cannot parse is stored (and found malformed).
func (w *Writer) certNew(m dispatch.Message, policy *rules.Policy) (change, error) {
	cert, parsed, parseErr, err := events.DecodeCertificate(m.Event)
	if err != nil {
		return change{}, err
	}
	if parseErr != nil {
		w.log.Info("certificate stored without x509 parse", "sha256", cert.SHA256, "err", parseErr)
	}
	c := change{}
	c.Event = w.eventRow(m)
	c.Cert = certFromCertNew(cert, parsed, m.Event.Data, m.Event.CreatedOn)
	observed(c.Cert, m)
	if policy != nil {
		w.judge(&c, policy, rules.FromCertificate(cert, parsed, parseErr))
	}
	return c, nil
}
