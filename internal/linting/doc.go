// Package linting is the worker's lint stage: a handler of its own durable consumer on HZ_EVENTS
// that lints every certificate and precertificate of ct.entry and pki.cert.new events once with
// zlint (internal/lint), stores what zlint found in the inventory, and turns the results the policy
// alerts on into lintError findings, published through the same outbox as every other finding.
//
// It runs beside the event writer (internal/ingest), never in its way: it consumes the same events
// through a consumer of its own with its own concurrency, keys everything by the certificate's
// SHA-256 (so it may come before or after the writer stored the certificate), skips certificates
// already linted with the same zlint version and lints (lint.Linter.Fingerprint), and gives way to
// the writer's batches for the CPU (Yield).
package linting
