//go:build !linux

package storage

const canDropMapped = false

// dropMapped does nothing outside Linux.
func dropMapped(uintptr, int64) error { return nil }
