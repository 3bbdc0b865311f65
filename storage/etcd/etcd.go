package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/ukeygate/ukeygate/storage"
)

// Config configures the connection to the etcd cluster.
type Config struct {
	// Endpoints of the cluster members, e.g. "http://10.0.0.1:2379".
	Endpoints []string
	// Prefix is put before every key; ukeygate writes nothing outside it.
	Prefix string
	// DialTimeout bounds connecting at Open.
	DialTimeout time.Duration
	// RequestTimeout bounds each call whose context has no deadline, so
	// that an unreachable cluster gives ErrUnavailable rather than a hang.
	RequestTimeout time.Duration
	// WatchBuffer is the channel capacity of each watcher; a watcher more
	// than this many events behind is dropped (its channel closed).
	WatchBuffer int
}

// DefaultConfig returns a local single-member cluster, the prefix
// "ukeygate/", 5 s timeouts and 1024 buffered events per watcher.
func DefaultConfig() Config {
	return Config{
		Endpoints:      []string{"http://127.0.0.1:2379"},
		Prefix:         "ukeygate/",
		DialTimeout:    5 * time.Second,
		RequestTimeout: 5 * time.Second,
		WatchBuffer:    1024,
	}
}

// Validate names the first bad setting; the error wraps storage.ErrInvalid.
func (c Config) Validate() error {
	switch {
	case len(c.Endpoints) == 0:
		return fmt.Errorf("%w: etcd config: endpoints is empty", storage.ErrInvalid)
	case c.DialTimeout <= 0:
		return fmt.Errorf("%w: etcd config: dial_timeout %s must be positive", storage.ErrInvalid, c.DialTimeout)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("%w: etcd config: request_timeout %s must be positive", storage.ErrInvalid, c.RequestTimeout)
	case c.WatchBuffer < 1:
		return fmt.Errorf("%w: etcd config: watch_buffer %d must be at least 1", storage.ErrInvalid, c.WatchBuffer)
	}
	for i, e := range c.Endpoints {
		if strings.TrimSpace(e) == "" {
			return fmt.Errorf("%w: etcd config: endpoints[%d] is empty", storage.ErrInvalid, i)
		}
	}
	if c.Prefix != "" {
		if err := storage.ValidatePrefix(c.Prefix); err != nil {
			return fmt.Errorf("etcd config: prefix: %w", err)
		}
	}
	return nil
}

// maxTxnAttempts bounds the read-then-commit rounds of one conditional
// transaction while other writers keep changing its condition keys.
const maxTxnAttempts = 100

// Store is the etcd implementation of storage.Store. It is safe for
// concurrent use.
type Store struct {
	cli     *clientv3.Client
	prefix  string
	timeout time.Duration
	buffer  int

	life      sync.RWMutex // read: calls in flight; write: Close
	closed    bool
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}  // closed by Close: forwarders stop
	bg        sync.WaitGroup // watch forwarders and lease revocations
}

var _ storage.Store = (*Store)(nil)

// Open connects to the cluster and checks that it answers within
// cfg.DialTimeout (ErrUnavailable otherwise).
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:          cfg.Endpoints,
		DialTimeout:        cfg.DialTimeout,
		MaxCallSendMsgSize: 2 * storage.MaxValueLen,
		Logger:             zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: cannot connect to %v: %w: %w", cfg.Endpoints, storage.ErrUnavailable, err)
	}
	s := &Store{
		cli:     cli,
		prefix:  cfg.Prefix,
		timeout: cfg.RequestTimeout,
		buffer:  cfg.WatchBuffer,
		done:    make(chan struct{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
	defer cancel()
	if _, err := s.cli.Get(ctx, s.pingKey(), clientv3.WithCountOnly()); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("etcd: cluster %v does not answer within %s: %w: %w", cfg.Endpoints, cfg.DialTimeout, storage.ErrUnavailable, err)
	}
	return s, nil
}

// enter starts a call: ErrClosed after Close, otherwise b.life is held for
// reading until the caller's RUnlock.
func (s *Store) enter() error {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return storage.ErrClosed
	}
	return nil
}

// reqCtx bounds a call whose context has no deadline by RequestTimeout.
func (s *Store) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// backendErr maps a client error: the caller's own cancellation stays as
// is, a request the server finds too large is ErrInvalid, anything else is
// ErrUnavailable.
func (s *Store) backendErr(caller context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case caller.Err() != nil:
		return caller.Err()
	case errors.Is(err, rpctypes.ErrRequestTooLarge), errors.Is(err, rpctypes.ErrGRPCRequestTooLarge):
		return fmt.Errorf("%w: etcd: %s: request larger than the server's --max-request-bytes", storage.ErrInvalid, op)
	}
	return fmt.Errorf("etcd: %s: %w: %w", op, storage.ErrUnavailable, err)
}

func (s *Store) damaged(err error) error {
	return fmt.Errorf("etcd: value under the prefix is damaged: %w: %w", storage.ErrUnavailable, err)
}

// toKV converts a stored key-value; expired reports a passed TTL.
func (s *Store) toKV(key string, raw []byte, modRev int64, now int64) (kv storage.KV, expired bool, err error) {
	value, exp, err := decodeValue(raw)
	if err != nil {
		return storage.KV{}, false, s.damaged(err)
	}
	if exp != 0 && now >= exp {
		return storage.KV{}, true, nil
	}
	return storage.KV{Key: key, Value: value, Revision: modRev, ExpiresAt: expiryTime(exp)}, false, nil
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (storage.KV, error) {
	if err := s.enter(); err != nil {
		return storage.KV{}, err
	}
	defer s.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return storage.KV{}, err
	}
	if err := storage.ValidateKey(key); err != nil {
		return storage.KV{}, err
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.prefix+key)
	if err != nil {
		return storage.KV{}, s.backendErr(ctx, "get", err)
	}
	if len(resp.Kvs) == 0 {
		return storage.KV{}, storage.ErrNotFound
	}
	kv, expired, err := s.toKV(key, resp.Kvs[0].Value, resp.Kvs[0].ModRevision, time.Now().UnixNano())
	if err != nil {
		return storage.KV{}, err
	}
	if expired {
		return storage.KV{}, storage.ErrNotFound
	}
	return kv, nil
}

// List implements storage.Store. The prefix is literal, as in package
// storage.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	if err := s.enter(); err != nil {
		return nil, 0, err
	}
	defer s.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		return nil, 0, err
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.prefix+prefix, clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, 0, s.backendErr(ctx, "list", err)
	}
	now := time.Now().UnixNano()
	kvs := make([]storage.KV, 0, len(resp.Kvs))
	for _, raw := range resp.Kvs {
		kv, expired, err := s.toKV(strings.TrimPrefix(string(raw.Key), s.prefix), raw.Value, raw.ModRevision, now)
		if err != nil {
			return nil, 0, err
		}
		if !expired {
			kvs = append(kvs, kv)
		}
	}
	return kvs, resp.Header.Revision, nil
}

// Txn implements storage.Store. Conditions are checked on a read of their
// keys (so that an expired key counts as absent even before etcd revokes
// its lease), then the writes are committed in an etcd transaction that
// also asserts none of those keys changed since that read; if one did, the
// read is repeated.
func (s *Store) Txn(ctx context.Context, ops ...storage.Op) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := storage.ValidateTxn(ops); err != nil {
		return 0, err
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()

	// Leases, one per distinct TTL.
	leases := map[time.Duration]clientv3.LeaseID{}
	var granted []clientv3.LeaseID
	release := func() { s.revoke(granted) }
	for _, op := range ops {
		if !op.IsPut() || op.TTL == 0 {
			continue
		}
		if _, ok := leases[op.TTL]; ok {
			continue
		}
		secs := int64((op.TTL + time.Second - 1) / time.Second)
		lease, err := s.cli.Grant(rctx, secs)
		if err != nil {
			release()
			return 0, s.backendErr(ctx, "grant lease", err)
		}
		leases[op.TTL] = lease.ID
		granted = append(granted, lease.ID)
	}
	now := time.Now().UnixNano()
	var writes []clientv3.Op
	for _, op := range ops {
		switch {
		case op.IsPut():
			var exp int64
			var opts []clientv3.OpOption
			if op.TTL > 0 {
				exp = now + int64(op.TTL)
				opts = append(opts, clientv3.WithLease(leases[op.TTL]))
			}
			writes = append(writes, clientv3.OpPut(s.prefix+op.Key, encodeValue(op.Value, exp), opts...))
		case op.IsDelete():
			writes = append(writes, clientv3.OpDelete(s.prefix+op.Key))
		}
	}
	var conds []storage.Op
	for _, op := range ops {
		if op.IsCondition() {
			conds = append(conds, op)
		}
	}

	for range maxTxnAttempts {
		cmps, err := s.checkConditions(ctx, rctx, conds)
		if err != nil {
			release()
			return 0, err
		}
		resp, err := s.cli.Txn(rctx).If(cmps...).Then(writes...).Commit()
		if err != nil {
			release()
			return 0, s.backendErr(ctx, "txn", err)
		}
		if resp.Succeeded {
			return resp.Header.Revision, nil
		}
		// A condition key changed between the read and the commit: read again.
	}
	release()
	return 0, storage.ErrConflict
}

// checkConditions reads the condition keys in one snapshot, returns
// ErrConflict if a condition does not hold there, and otherwise the etcd
// comparisons asserting that none of the keys changed since.
func (s *Store) checkConditions(ctx, rctx context.Context, conds []storage.Op) ([]clientv3.Cmp, error) {
	if len(conds) == 0 {
		return nil, nil
	}
	gets := make([]clientv3.Op, len(conds))
	for i, c := range conds {
		gets[i] = clientv3.OpGet(s.prefix + c.Key)
	}
	resp, err := s.cli.Txn(rctx).Then(gets...).Commit()
	if err != nil {
		return nil, s.backendErr(ctx, "read conditions", err)
	}
	now := time.Now().UnixNano()
	cmps := make([]clientv3.Cmp, len(conds))
	for i, c := range conds {
		var seen, effective int64 // seen: etcd's ModRevision; effective: 0 if expired
		if kvs := resp.Responses[i].GetResponseRange().GetKvs(); len(kvs) > 0 {
			seen = kvs[0].ModRevision
			_, expired, err := s.toKV(c.Key, kvs[0].Value, seen, now)
			if err != nil {
				return nil, err
			}
			if !expired {
				effective = seen
			}
		}
		if effective != c.Revision {
			return nil, storage.ErrConflict
		}
		cmps[i] = clientv3.Compare(clientv3.ModRevision(s.prefix+c.Key), "=", seen)
	}
	return cmps, nil
}

// revoke drops leases a failed transaction granted, in the background.
func (s *Store) revoke(ids []clientv3.LeaseID) {
	if len(ids) == 0 {
		return
	}
	s.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		for _, id := range ids {
			_, _ = s.cli.Revoke(ctx, id) // best effort: it expires anyway
		}
	})
}

// Watch implements storage.Store with an etcd prefix watch from the
// revision after the call. The channel holds Config.WatchBuffer events; a
// watcher that lets it fill up, or whose etcd watch fails (compaction,
// lost cluster), has its channel closed and must re-list.
func (s *Store) Watch(ctx context.Context, prefix string) (<-chan storage.Event, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Get(rctx, s.pingKey(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return nil, s.backendErr(ctx, "watch", err)
	}
	wctx, stop := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := s.cli.Watch(wctx, s.prefix+prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	out := make(chan storage.Event, s.buffer)
	s.bg.Go(func() {
		defer close(out)
		defer stop()
		for {
			select {
			case <-s.done:
				return
			case <-ctx.Done():
				return
			case wr, ok := <-wch:
				if !ok || wr.Err() != nil {
					return
				}
				for _, ev := range wr.Events {
					e, err := s.toEvent(ev)
					if err != nil {
						return
					}
					select {
					case out <- e:
					default:
						return // fell behind: close rather than buffer without bound
					}
				}
			}
		}
	})
	return out, nil
}

func (s *Store) toEvent(ev *clientv3.Event) (storage.Event, error) {
	key := strings.TrimPrefix(string(ev.Kv.Key), s.prefix)
	if ev.Type == clientv3.EventTypeDelete {
		return storage.Event{Type: storage.EventDelete, KV: storage.KV{Key: key, Revision: ev.Kv.ModRevision}}, nil
	}
	value, exp, err := decodeValue(ev.Kv.Value)
	if err != nil {
		return storage.Event{}, s.damaged(err)
	}
	return storage.Event{Type: storage.EventPut, KV: storage.KV{
		Key: key, Value: value, Revision: ev.Kv.ModRevision, ExpiresAt: expiryTime(exp),
	}}, nil
}

// pingKey is a key under the prefix that ukeygate never writes (NUL is not
// allowed in storage keys).
func (s *Store) pingKey() string { return s.prefix + "\x00ping" }

func (s *Store) ping(ctx context.Context) error {
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	_, err := s.cli.Get(rctx, s.pingKey(), clientv3.WithCountOnly())
	return s.backendErr(ctx, "ping", err)
}

// Ping implements storage.Store with a linearizable read (it needs a
// cluster quorum).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.ping(ctx)
}

// Close waits for calls in flight, closes every watcher's channel and the
// client. It is idempotent; later calls return ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.life.Lock()
		s.closed = true
		close(s.done)
		s.life.Unlock()
		s.bg.Wait()
		if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
			s.closeErr = fmt.Errorf("etcd: close: %w", err)
		}
	})
	return s.closeErr
}
