// Package findings turns policy verdicts into stored findings and their alerts into messages: the
// row of a finding with the alert it will send, the outbox that publishes the alerts of stored
// findings on HZ_ALERTS exactly once per finding, and the scheduled expiry scan that finds
// certificates about to expire without any event. The findings themselves are stored by the
// inventory, in the same transaction as their certificate.
package findings
