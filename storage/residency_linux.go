package storage

import "syscall"

const canDropMapped = true

// dropMapped is madvise(addr, n, MADV_DONTNEED). addr is the start of
// bbolt's mapping, which its caller keeps mapped for the duration.
func dropMapped(addr uintptr, n int64) error {
	if n <= 0 {
		return nil
	}
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(n), syscall.MADV_DONTNEED); e != 0 {
		return e
	}
	return nil
}
