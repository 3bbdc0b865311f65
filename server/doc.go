// Package server wires one ukeygate node together: it opens the store
// (bbolt or etcd), takes the master key, builds the product's services and
// the api handler (wire.go), and serves them with /healthz, /readyz,
// /metrics, request logging, panic recovery and security headers on an
// http.Server whose timeouts come from the configuration. Serve stops
// gracefully when its context ends and then closes the store.
//
// LoadMasterKey and CreateMasterKey hold the master key file rules (32 raw
// bytes, mode 0600). Package servertest starts a whole server on loopback
// for end-to-end tests.
//
// It must never read viper, flags or the environment (cmd/ukeygate fills
// config.Config), nor hold business logic: that belongs to the packages it
// wires.
package server
