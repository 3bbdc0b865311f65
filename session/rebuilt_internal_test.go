package session

import (
	"maps"
	"runtime"
	"testing"
)

// allocated is the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestRebuiltShrinks: after a mass departure the hub's maps hold few
// entries in tables sized for many; rebuilt gives a map sized for what is
// left, where maps.Clone would copy the tables whole.
func TestRebuiltShrinks(t *testing.T) {
	m := make(map[string]*known)
	for i := range 50_000 {
		m[string(rune(0x4e00+i%20000))+string(rune('a'+i/20000))] = &known{}
	}
	keep := 0
	for k := range m {
		if keep < 10 {
			keep++
			continue
		}
		delete(m, k)
	}
	var cloned, small map[string]*known
	cloneBytes := allocated(func() { cloned = maps.Clone(m) })
	rebuiltBytes := allocated(func() { small = rebuilt(m) })
	if len(small) != 10 || !maps.Equal(small, m) || !maps.Equal(cloned, m) {
		t.Fatalf("rebuilt holds %d entries, want the same 10 as the original", len(small))
	}
	if cloneBytes < 512<<10 || rebuiltBytes > 16<<10 {
		t.Fatalf("maps.Clone allocated %d bytes, rebuilt %d; want maps.Clone ≥ 512 KiB (the test's premise) and rebuilt ≤ 16 KiB", cloneBytes, rebuiltBytes)
	}
	t.Logf("10 entries left of 50,000: maps.Clone allocates %d bytes, rebuilt %d", cloneBytes, rebuiltBytes)
}
