package ingest

import (
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/rules"
)

// ctEntry builds the change of a ct.entry: the CT log entry, and the certificate row as much of it
// as the leaf tells (never replacing a pki.cert.new row). A leaf crypto/x509 cannot parse is
// stored with what the entry states.
func (w *Writer) ctEntry(m dispatch.Message, policy *rules.Policy) (change, error) {
	entry, leaf, parseErr, err := events.DecodeCTEntry(m.Event)
	if err != nil {
		return change{}, err
	}
	if parseErr != nil {
		w.log.Info("certificate stored without x509 parse", "sha256", entry.SHA256, "err", parseErr)
	}
	c := change{}
	c.Event = w.eventRow(m)
	if c.Cert, err = certFromCTEntry(entry, leaf); err != nil {
		return change{}, events.Permanent(err)
	}
	observed(c.Cert, m)
	c.Entry = entryFromCTEntry(entry)
	if policy != nil {
		w.judge(&c, policy, rules.FromCTEntry(entry, leaf, parseErr))
	}
	return c, nil
}
