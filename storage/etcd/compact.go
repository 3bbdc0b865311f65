package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ukeygate/ukeygate/storage"
)

var _ storage.Compactor = (*Store)(nil)

// Compact implements storage.Compactor: it compacts the cluster's
// revision history up to the current revision and waits until the
// compaction is applied (physical), so that no overwritten or deleted
// value can be read at an older revision any more. Compaction is
// cluster-wide: it drops the history of every prefix, not only this
// store's. The members' backend files keep freed pages until they are
// defragmented (etcdctl defrag; docs/privacy.md).
func (s *Store) Compact(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.life.RUnlock()
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.pingKey(), clientv3.WithCountOnly())
	if err != nil {
		return s.backendErr(ctx, "compact", err)
	}
	rev := resp.Header.Revision
	if _, err := s.cli.Compact(rctx, rev, clientv3.WithCompactPhysical()); err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			return nil // someone compacted at least as far already
		}
		return s.backendErr(ctx, fmt.Sprintf("compact to revision %d", rev), err)
	}
	return nil
}
