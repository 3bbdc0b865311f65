// Package upload holds the documents a portal uploads before it names them
// in a seal session (POST /v1/uploads, then a seal document with
// "upload": ID instead of "pdf"), for PDFs larger than a session may carry.
//
// An upload is streamed into the store in chunks (Config.ChunkBytes each,
// one write per chunk, so that each fits etcd's request limit), every
// chunk sealed with SM4-GCM under a key derived from the master key and
// bound to the upload id and its index; a manifest (app, size, SHA-256,
// SM3, expiry, claim) is written last, so a broken upload is never seen.
// An upload belongs to the app that made it, lives Config.TTL, and is
// used by one session: the api claims it when it creates that session and
// binds it to the session id; the sweeper (Sweep, Run) deletes its chunks
// once that session has ended, and the store's TTL removes whatever is
// left.
//
// It must never decide what a document means (the api checks the PDF),
// never hand one app's upload to another, and never keep a document in
// clear at rest.
package upload
