-- Traces: the W3C traceparent of the event message that stored a finding ('' when it was not
-- traced), so that its alert continues that event's trace whoever publishes it (the event's
-- handler, a redelivery, or the expiry scan's sweep).
ALTER TABLE findings ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
