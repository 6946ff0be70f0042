// Package ingest is the worker's event handler: it turns ct.entry and pki.cert.new messages into
// inventory rows, judges each certificate against the policy, writes a batch with its findings in
// one transaction, and then puts the alerts of new findings on HZ_ALERTS through the outbox. A
// message is done only when both happened. A pki.cert.new that is a newer copy of a stored
// certificate (the certificate sync) is also judged on what changed; the findings of a message
// marked Hz-Alerts: off (an import) are recorded without alerting.
package ingest
