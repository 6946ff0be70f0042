// Package logging builds the JSON slog logger every hzhook binary uses.
package logging
