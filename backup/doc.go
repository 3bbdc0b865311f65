// Package backup holds the backup file format of a ukeygate store and the
// two operations on it: Write copies every live key of a store, as stored
// (values sealed by package vault stay sealed), from one consistent read;
// Restore checks a file completely, then writes it into an empty store;
// RestoreWith also runs the caller's last writes (the restore's audit
// entry, vault.RecordRestore) before it removes its marker.
//
// File format, version 1: JSON lines.
//
//	{"format":"ukeygate-backup-1","store_id":…,"key_id":…,"backend":…,"revision":…,"created_at":…}
//	{"k":"<key>","v":"<base64 value>","exp":"<RFC 3339 expiry, only for keys with a TTL>"}
//	…
//	{"end":true,"records":N,"sm3":"<hex SM3 of every byte before this line>"}
//
// key_id names the master key the values are sealed under: the file is
// useless without that key, and that key is never in the file.
//
// This package must never open a sealed value, and Restore must never
// write into a store that holds data.
package backup
