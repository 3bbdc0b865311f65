package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestBacklog: the entries after the last archived segment, and when it
// was exported; an empty log and a never-archived one have no archive
// time.
func TestBacklog(t *testing.T) {
	ctx := context.Background()
	l, c := newClockLog(t, storagetest.MustOpen(t))
	backlog := func(wantN int64, wantAt time.Time) {
		t.Helper()
		n, at, err := l.Backlog(ctx)
		if err != nil || n != wantN || !at.Equal(wantAt) {
			t.Fatalf("backlog %d since %v (%v), want %d since %v", n, at, err, wantN, wantAt)
		}
	}
	backlog(0, time.Time{})
	appendN(t, l, 4)
	backlog(4, time.Time{})
	c.add(time.Hour)
	exported := c.now()
	exportArchive(t, l, 3) // 1..3
	backlog(1, exported)
	c.add(time.Hour)
	appendN(t, l, 2)
	backlog(3, exported)
}
