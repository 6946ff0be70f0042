// Package webhook is the public listener's one route: POST of a Hardenize event delivery, answered
// 204 only after intake stored it durably, and 400, 413, 429 or 503 otherwise (see Server).
package webhook
