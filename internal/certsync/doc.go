// Package certsync puts the certificates the Hardenize certificate API lists into HZ_EVENTS as
// pki.cert.new events, so that the workers store them through the very code that stores
// Hardenize's own events: every rule, lint and alert applies. hzctl certs import fills a new
// inventory with it once; the worker's --cert-sync-every keeps the inventory true afterwards, as
// the seed advises ("retrieve new and updated certificates daily"), comparing each certificate
// with the stored copy and sending only the new and the changed.
//
// Listing: the API has no "changed since" filter (newSince covers additions only), so every run
// takes a full snapshot through the asynchronous POST /certs/;listCerts, page by page
// (hardenize.ListCertsPages). A CertCursor saved after every page (Checkpoint) lets an
// interrupted import resume where it stopped.
//
// Events: Event builds the envelope {"id","type":"pki.cert.new","createdOn","data"} with data the
// certificate object exactly as the API sent it and createdOn the time the listing was requested
// (the inventory's observed_at: the later observation of a certificate wins). The event id is
// derived from the certificate's sha256 and a digest of its canonical JSON, and the message id is
// "<org>/certs/<event id>": a rerun stores nothing new within the stream's duplicate window
// (beyond it the inventory's upserts and the findings' deduplication change nothing), while a
// certificate that changed (revokedOn appeared) gets a new id and is stored again. Headers are
// those of every stored event, with Hz-Source import or sync, X-Hardenize-EventHookId "certs",
// and Hz-Alerts: off when its findings must not alert.
package certsync
