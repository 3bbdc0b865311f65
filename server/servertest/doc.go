// Package servertest starts a whole ukeygate server for end-to-end tests:
// real config, real master key file, real bbolt store in t.TempDir(), real
// HTTP on 127.0.0.1 with an ephemeral port. It must only be imported by
// tests.
package servertest
