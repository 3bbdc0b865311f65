package session

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDuePrefixes checks that the full sweep's prefixes cover exactly the
// buckets up to the last due one, each by one prefix, in key order.
func TestDuePrefixes(t *testing.T) {
	lasts := []int64{0, 1, 9, 10, 99, 100, 101, 1765000123, time.Now().Unix(), 999_999_999_999}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		lasts = append(lasts, r.Int64N(3_000_000_000))
	}
	for _, last := range lasts {
		ps := duePrefixes(last)
		if !slices.IsSorted(ps) {
			t.Fatalf("last %d: prefixes out of order: %q", last, ps)
		}
		if len(ps) > 9*bucketDigits+1 {
			t.Fatalf("last %d: %d prefixes", last, len(ps))
		}
		// Buckets around last, around each power of ten, and random ones.
		probe := []int64{0, last, last + 1, last + 2, 999_999_999_999}
		for d := int64(1); d < 1e12; d *= 10 {
			probe = append(probe, d-1, d, d+1, last-d, last+d)
		}
		for range 200 {
			probe = append(probe, r.Int64N(last+2))
		}
		for _, b := range probe {
			if b < 0 || b > 999_999_999_999 {
				continue
			}
			key := expiryKey(time.Unix(b, 0), "ses_x")
			n := 0
			for _, p := range ps {
				if strings.HasPrefix(key, p) {
					n++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[b <= last]; n != want {
				t.Fatalf("last %d: bucket %d is under %d prefixes, want %d", last, b, n, want)
			}
		}
	}
	if got := duePrefixes(-1); !slices.Equal(got, []string{expiryPrefix}) {
		t.Fatalf("negative last: %q", got)
	}
}
