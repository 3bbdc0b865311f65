// Package monitor exports, as Prometheus gauges, the state of the CA that
// an operator alerts on but that no request counts: when each issuer's
// certificate ends, how many users' certificates end soon, how long the
// RA queue and the escrow recoveries have waited, how far the audit log is
// behind its archive, and which build a node runs. A Monitor samples its
// sources every Config.Interval (and once at start) in the background, so
// a scrape of /metrics costs nothing; each source is sampled on its own,
// and one that fails keeps its last values and counts the failure
// (ukeygate_monitor_errors_total), so a failing source shows up as
// stale rather than as zero.
//
// docs/operations.md "Monitoring and alerts" lists the metrics and the
// alerts of docs/alerts.yml built on them.
//
// This package must never write to the store, hold a record type of
// another package (its sources are small interfaces the server adapts),
// or expose a user's identity in a label: labels name issuers, sources and
// builds only.
package monitor
