// Package logging builds the JSON slog logger every hzhook binary uses; a record logged with a
// traced context carries the trace_id and span_id of its span.
package logging
