// Package adminapi is the worker's admin API under /api/v1, behind the bearer token: the inventory
// read API (certificates, CT entries, findings, report) and the dead-letter operations (list,
// show, redrive, purge). Answers use the shapes of internal/apiwire; a bad query parameter is a
// 400 naming it. The console renders from the same stores through the same query types.
package adminapi
