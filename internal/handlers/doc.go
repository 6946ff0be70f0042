// Package handlers is the HTTP edge every hzhook listener shares: an echo instance whose errors
// become answers in one place (ErrorHandler, in Hardenize's ErrorResponse shape), panics recovered,
// every answer counted; the health, readiness and metrics routes of an admin listener; and the
// bearer-token guard of the admin API. The routes themselves live in its subpackages: webhook (the
// public intake) and adminapi (the worker's read and dead-letter API).
package handlers
