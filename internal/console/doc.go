// Package console is hzhook's web console, served by the worker on its admin listener under /ui/:
// the overview (feed health, the certificate sync, consumer lag, dead letters, findings, expiry,
// issuances per day), the certificates with every filter of the API and their exports, one
// certificate's page with what zlint found on it, the findings with their authorization (and
// whether their alert went out), the dead letters with redrive and purge, and the report.
//
// It renders with html/template (every value escaped) from templates and a stylesheet embedded in
// the binary; it ships no JavaScript and needs none: every page is a plain form or link, so it
// works without a network beyond the listener and without scripts. It reads through the same
// stores and the same query readers as the admin API (internal/handlers/adminapi), so the console
// and the API never disagree, and a bad parameter is the same 400.
//
// Access: log in once with the admin token; the console then uses a signed, expiring session
// cookie (HttpOnly, SameSite=Strict, Secure behind TLS). A reverse proxy doing single sign-on may
// send "Authorization: Bearer <token>" instead. Every state-changing request is a POST checked
// for its Origin (or Referer) and a CSRF token bound to the session. Every answer carries a
// Content-Security-Policy without 'unsafe-inline', frame-ancestors 'none' and nosniff.
package console
