// Package verify authenticates Hardenize event hook deliveries.
//
// Hardenize signs every delivery with a secret unique to the event hook and
// sends the result in the X-Hardenize-Signature header as
//
//	t=<unix milliseconds>; hmac-sha256=<hex>
//
// where the MAC is HMAC-SHA256, keyed with the secret's bytes, over the
// decimal timestamp, a semicolon and the verbatim request body. A [Verifier]
// finds the hook's secrets through the X-Hardenize-Org and
// X-Hardenize-EventHookId headers (a [Store] in production), checks the MAC
// against each of them so that secrets can be rotated without downtime, and
// rejects timestamps outside a tolerance to limit replays.
//
// Secret values never appear in errors or log records produced here.
package verify
