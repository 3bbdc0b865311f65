package audit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/storage/etcd"
)

// TestArchiveTwoNodesOnEtcd: two nodes (each its own etcd client) append,
// one exports, the other records the anchor, and both prune at once: the
// exported entries leave exactly once, the rest stay, and both nodes
// verify the log.
func TestArchiveTwoNodesOnEtcd(t *testing.T) {
	url := testkit.StartEtcd(t)
	ctx := context.Background()
	c := &clock{t: time.Now().UTC()}
	var logs []*audit.Log
	for range 2 {
		cfg := etcd.DefaultConfig()
		cfg.Endpoints, cfg.Prefix = []string{url}, "/audit-archive/"
		st, err := etcd.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		l, err := audit.New(st, master, c.now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		logs = append(logs, l)
	}
	var wg sync.WaitGroup
	for _, l := range logs {
		wg.Go(func() {
			for range 15 {
				if _, err := l.Append(ctx, audit.Entry{Action: "sign", UserID: "usr_1", Digest: "ab", Outcome: audit.OutcomeOK}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	seg, err := logs[0].Segment(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := logs[1].Archive(ctx, seg.Anchor); err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	removed := make([]int, 2)
	for i, l := range logs {
		wg.Go(func() {
			n, err := l.Prune(ctx, c.now(), 1000)
			if err != nil {
				t.Error(err)
			}
			removed[i] = n
		})
	}
	wg.Wait()
	// A prune that lost the race to the other node stops for this run;
	// the next run finishes what is left.
	for _, l := range logs {
		n, err := l.Prune(ctx, c.now(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		removed[0] += n
	}
	if removed[0]+removed[1] != 20 {
		t.Fatalf("removed %v, want 20 in all", removed)
	}
	for _, l := range logs {
		rep, err := l.Verify(ctx)
		if err != nil || rep.FirstSeq != 21 || rep.Entries != 30 || rep.Archived != 20 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	}
	if _, err := audit.VerifySegments([]audit.Segment{seg}); err != nil {
		t.Fatal(err)
	}
}
