// Package hardenize is a client of the Hardenize Organization API
// (https://api.hardenize.com/v1/org/{org}/): event hooks, events, event types and event
// destinations, certificates (GET /certs, GET /certs/{sha256}, and the paginated
// POST /certs/;listCerts through the asynchronous operations protocol, resumable with a
// CertCursor). It authenticates with HTTP Basic credentials, turns ErrorResponse bodies into
// *APIError, retries 429 and 5xx answers with backoff (honouring Retry-After) and ignores unknown
// fields, as the API asks of its clients. A Client is safe for concurrent use.
package hardenize
