package etcd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestCompact: after Compact an overwritten or deleted value can no longer
// be read at an older revision; live keys are untouched. (Its own etcd:
// compaction is cluster-wide.)
func TestCompact(t *testing.T) {
	endpoint := testkit.StartEtcd(t)
	s := openStore(t, endpoint, "compact/")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old, err := storagetest.PutKey(ctx, s, "k", []byte("old value"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storagetest.PutKey(ctx, s, "k", []byte("new value"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := storagetest.DeleteKey(ctx, s, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := storagetest.PutKey(ctx, s, "live", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if resp, err := cli.Get(ctx, "compact/k", clientv3.WithRev(old)); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("before compaction the old revision should be readable: %v", err)
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "compact/k", clientv3.WithRev(old)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("old revision after compaction: %v, want compacted", err)
	}
	if kv, err := s.Get(ctx, "live"); err != nil || string(kv.Value) != "v" {
		t.Fatalf("live key: %+v %v", kv, err)
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatalf("a second compaction: %v", err)
	}
}
