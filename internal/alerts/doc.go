// Package alerts turns findings into alert messages on the JetStream stream HZ_ALERTS and delivers
// them to sinks: a signed JSON webhook, a Slack incoming webhook, and the log.
//
// Each alert is published once (Nats-Msg-Id = alert id) on hz.alerts.<finding type>. Every sink
// runs as its own durable consumer of the stream, driven by the shared dispatcher through Handler,
// so each sink retries, backs off and dead-letters independently of the others: a Slack outage
// never re-sends an alert that the webhook already took.
package alerts
