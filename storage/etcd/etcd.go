package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
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
	bg        sync.WaitGroup // watch forwarders

	leases   leaseBuckets // shared leases of puts with a TTL
	expiries expiryCache  // the expiry of (key, revision)s read or written
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
	s.leases.init()
	s.expiries.init()
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
	s.expiries.put(key, modRev, exp)
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

// Txn implements storage.Store in one etcd transaction when it can: the
// conditions are etcd comparisons of the keys' revisions inside the write
// transaction itself, and its Else branch reads the condition keys, so
// that a failed comparison is told apart from an expired key (absent to
// conditions, though etcd deletes it only when its lease ends) without
// another round trip. A key's expiry is known for the revisions this
// store has read or written (expiries); a condition on a revision whose
// expiry is not known compares that the key has no lease, and on a key
// with a TTL the comparison also asserts it has not expired (its stored
// envelope sorts after the current time). Puts with a TTL share one lease
// per expiry bucket (leases.go).
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

	var conds []storage.Op
	for _, op := range ops {
		if op.IsCondition() {
			conds = append(conds, op)
		}
	}
	elseGets := make([]clientv3.Op, len(conds))
	for i, c := range conds {
		elseGets[i] = clientv3.OpGet(s.prefix + c.Key)
	}
	now := time.Now().UnixNano()
	cmps, err := s.guessConditions(conds, now)
	if err != nil {
		return 0, err
	}
	leaseRetried := false
	for range maxTxnAttempts {
		writes, exps, err := s.writeOps(ctx, rctx, ops, now)
		if err != nil {
			return 0, err
		}
		resp, err := s.cli.Txn(rctx).If(cmps...).Then(writes...).Else(elseGets...).Commit()
		if err != nil {
			if isLeaseNotFound(err) && !leaseRetried {
				// A bucket lease ended early (or was revoked): forget the
				// leases of this transaction and try once with new ones.
				leaseRetried = true
				s.leases.forget()
				continue
			}
			return 0, s.backendErr(ctx, "txn", err)
		}
		if resp.Succeeded {
			for i, op := range ops {
				if op.IsPut() {
					s.expiries.put(op.Key, resp.Header.Revision, exps[i])
				}
			}
			return resp.Header.Revision, nil
		}
		// A comparison failed: decide from the Else reads whether a
		// condition really fails, or whether the comparison was too
		// strict (an expired key still in etcd, a key whose expiry was
		// not known); then compare exactly against what was read.
		now = time.Now().UnixNano()
		if cmps, err = s.exactConditions(conds, resp.Responses, now); err != nil {
			return 0, err
		}
	}
	return 0, storage.ErrConflict
}

// guessConditions returns the comparisons of conds for a first attempt,
// from what the store knows of the revisions asked for, or ErrConflict for
// a revision known to have expired.
func (s *Store) guessConditions(conds []storage.Op, now int64) ([]clientv3.Cmp, error) {
	var cmps []clientv3.Cmp
	for _, c := range conds {
		key := s.prefix + c.Key
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", c.Revision))
		if c.Revision == 0 {
			continue // absent: an expired key fails this; the Else read tells
		}
		exp, known := s.expiries.get(c.Key, c.Revision)
		switch {
		case !known:
			// Only a key without a lease can be taken as unexpired.
			cmps = append(cmps, clientv3.Compare(clientv3.LeaseValue(key), "=", clientv3.NoLease))
		case exp == 0:
		case now >= exp:
			return nil, storage.ErrConflict
		default:
			cmps = append(cmps, notExpired(key, now))
		}
	}
	return cmps, nil
}

// exactConditions checks conds against the Else reads of a failed attempt
// (ErrConflict if one does not hold there) and returns the comparisons
// asserting that none of the keys changed since, nor expired.
func (s *Store) exactConditions(conds []storage.Op, reads []*etcdserverpb.ResponseOp, now int64) ([]clientv3.Cmp, error) {
	if len(reads) != len(conds) {
		return nil, fmt.Errorf("etcd: txn: %d reads for %d conditions: %w", len(reads), len(conds), storage.ErrUnavailable)
	}
	var cmps []clientv3.Cmp
	for i, c := range conds {
		key := s.prefix + c.Key
		var seen, effective, exp int64 // seen: etcd's ModRevision; effective: 0 if expired
		if kvs := reads[i].GetResponseRange().GetKvs(); len(kvs) > 0 {
			seen = kvs[0].ModRevision
			kv, expired, err := s.toKV(c.Key, kvs[0].Value, seen, now)
			if err != nil {
				return nil, err
			}
			if !expired {
				effective = seen
				if !kv.ExpiresAt.IsZero() {
					exp = kv.ExpiresAt.UnixNano()
				}
			}
		}
		if effective != c.Revision {
			return nil, storage.ErrConflict
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", seen))
		if exp != 0 {
			cmps = append(cmps, notExpired(key, now))
		}
	}
	return cmps, nil
}

// notExpired compares that key's stored envelope sorts after one expiring
// at now: the envelope starts with its version and its expiry big-endian,
// so for a key with a TTL that holds exactly while it has not expired.
func notExpired(key string, now int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.Value(key), ">", encodeValue(nil, now))
}

// writeOps returns the etcd writes of ops (puts with a TTL on their
// expiry bucket's lease) and each op's expiry (0: none).
func (s *Store) writeOps(ctx, rctx context.Context, ops []storage.Op, now int64) ([]clientv3.Op, []int64, error) {
	writes := make([]clientv3.Op, 0, len(ops))
	exps := make([]int64, len(ops))
	for i, op := range ops {
		switch {
		case op.IsPut():
			var opts []clientv3.OpOption
			if op.TTL > 0 {
				exps[i] = now + int64(op.TTL)
				id, err := s.leases.forExpiry(rctx, s.cli, s.timeout, exps[i], op.TTL)
				if err != nil {
					return nil, nil, s.backendErr(ctx, "grant lease", err)
				}
				opts = append(opts, clientv3.WithLease(id))
			}
			writes = append(writes, clientv3.OpPut(s.prefix+op.Key, encodeValue(op.Value, exps[i]), opts...))
		case op.IsDelete():
			writes = append(writes, clientv3.OpDelete(s.prefix+op.Key))
		}
	}
	return writes, exps, nil
}

func isLeaseNotFound(err error) bool {
	return errors.Is(err, rpctypes.ErrLeaseNotFound) || errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) ||
		strings.Contains(err.Error(), rpctypes.ErrGRPCLeaseNotFound.Error())
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
