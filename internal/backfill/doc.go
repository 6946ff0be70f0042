// Package backfill pulls events from the Hardenize events API and stores the ones HZ_EVENTS is
// missing — Hardenize's "belt and braces" advice for outages longer than its 24 hours of webhook
// retries. hzctl backfill runs it once; a worker may run it on a schedule under a Lock.
//
// Message ids: a backfilled event gets the Nats-Msg-Id its webhook delivery gets,
// "<org>/<hook id>/<event id>" (queue.MsgID), where the hook id is the webhook hook whose deliveries
// are being recovered (Options.HookID). The events API carries no hook id, so the caller names the
// hook (hzctl: --hook, or the organization's single webhook hook). An event already stored by
// webhook is then not stored again: within the stream's duplicate window JetStream drops it, and
// beyond it Run skips ids it found in HZ_EVENTS (Deps.Stream). Events delivered to another hook of
// the same organization keep their own ids and are stored once per hook, as webhooks store them.
//
// Paging: the API returns at most 100 events per call, earliest first, "after" since. Run asks for
// events after (last createdOn - Overlap) and drops the ids it already saw at or after that time,
// so a page that ends inside a burst of events with one timestamp loses none of them whether the
// API's since is exclusive or inclusive. The cursor and the ids seen at it are saved after every
// page (Checkpoint), so an interrupted run resumes with neither gap nor duplicate.
package backfill
