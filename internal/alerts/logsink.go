package alerts

import (
	"context"
	"log/slog"
	"strings"
)

// LogSink writes each alert as one WARN record. It never fails.
type LogSink struct {
	log *slog.Logger
}

// NewLogSink returns a sink writing to log.
func NewLogSink(log *slog.Logger) *LogSink { return &LogSink{log: log} }

// Kind returns KindLog.
func (s *LogSink) Kind() string { return KindLog }

// Deliver logs a.
func (s *LogSink) Deliver(ctx context.Context, a Alert) error {
	s.log.WarnContext(ctx, "certificate finding",
		"alert", a.ID, "type", a.Type, "detail", a.Detail,
		"hosts", strings.Join(a.Cert.Hosts, ","), "sha256", a.Cert.SHA256, "tbsSha256", a.Cert.TBSSHA256,
		"issuerCa", a.Cert.IssuerCA, "precert", a.Cert.Precert)
	return nil
}
