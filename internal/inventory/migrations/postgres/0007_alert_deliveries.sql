-- Alerts each sink has delivered: a message redelivered because its acknowledgement was lost (a
-- NATS node failing over, a worker killed after the delivery) is not sent again.
CREATE TABLE alert_deliveries (
    sink         TEXT        NOT NULL, -- webhook, slack, log
    alert_id     TEXT        NOT NULL,
    delivered_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sink, alert_id)
);
