// Package webhook delivers every session event of an app to the app's
// webhook: a durable outbox in the store and the one sender of a cluster.
//
//   - Hooks: Set registers (or replaces) an app's webhook URL and answers
//     its signing secret once; Remove drops it. URLs are absolute http(s)
//     without user info; unless Config.AllowPrivate, a target that is or
//     resolves to a loopback, private, link-local or otherwise
//     non-public address is refused, at registration and again, on the
//     resolved address, at every dial.
//   - Outbox: Service.EventOps (a session.Outbox) adds to the very
//     transaction that stores a session event the delivery record, its
//     body and a pending entry, conditioned on the app's webhook record,
//     so an event is stored if and only if its delivery is.
//   - Sender: one node at a time (a lease record with a store TTL — an etcd
//     lease on etcd; the only node on bbolt, Config.SingleNode) sends the
//     pending deliveries, oldest first, one at a time per session in
//     event order, signed (protocol.SignWebhook). Each attempt is first
//     recorded (attempts, next try) with compare-and-swap, so a node that
//     dies mid-attempt leaves a delivery that is retried, and no two nodes
//     send the same delivery at once. Any 2xx acknowledges; anything else
//     (another status, a redirect, a timeout, a refused connection) is
//     retried with growing delays and jitter until Config.RetryFor has
//     passed since the event, then the delivery fails.
//   - Apps list their deliveries (List) and ask for one again (Redeliver).
//   - Expiry reminders (reminders.go): the session-less event
//     credential.expiring, queued by the sending node every
//     Config.ReminderInterval for the apps that have had a completed
//     session with the credential's owner (recorded with the completed
//     event), once per credential, reminder day and app.
//
// It must never follow a redirect, read more than Config.MaxResponseBytes
// of an answer, log or return a secret except from Set, send a delivery
// that another node's attempt still holds, or tell an app about a user it
// has not served.
package webhook
