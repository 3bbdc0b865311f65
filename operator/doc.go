// Package operator is a typed Go client of the gateway's operator API
// (/v1/admin/*): issuers, apps, users and their activation codes, devices,
// credentials and the audit log. The CLI's operator commands, the bench
// load generator and the tests all set the gateway up through it.
//
// It speaks to the gateway only over HTTP with the admin token and holds
// its own copies of the wire types, so it must never import a server-side
// package (api, ca, session, storage, audit, server): `go list -deps` of
// this package shows no bbolt, etcd or session (TestNoServerDeps). It
// must never send the admin token anywhere but the gateway's
// Authorization header, nor put it in an error or a log.
package operator
