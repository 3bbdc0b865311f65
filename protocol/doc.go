// Package protocol holds what travels on the wire of the ukeygate v1 API
// (docs/openapi.yaml): the request and answer bodies of the portal and
// phone endpoints, the session events and results, the verify answer, the
// error envelope and its stable error codes, and the device request
// signature (the canonical string a phone signs, signing and checking
// it).
//
// The server (package api) encodes these types and the SDKs (packages
// portal and phone), the CLI and the load generator decode them, so each
// shape is written once. Field names and meanings are a contract: add,
// don't rename.
//
// It must never link the server: no storage, no session service, no CA,
// no HTTP handlers — only the standard library and the gateway's crypto
// package, so that an SDK that imports it stays small (TestNoServerDeps).
package protocol
