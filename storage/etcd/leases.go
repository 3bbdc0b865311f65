package etcd

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Keys with a TTL do not get a lease each: every put whose expiry falls in
// the same bucket shares one lease that ends at the bucket's end, so a
// steady load grants about one lease per bucket instead of one per write
// (each grant, and each lease's end, is a raft proposal). A key is
// invisible from its own expiry on (the expiry is in its envelope and
// checked on every read); the shared lease only deletes it, at most one
// bucket plus etcd's lease check interval later.
const (
	minBucket = time.Second
	maxBucket = 10 * time.Second
	// bucketDivisor: a TTL's bucket is a tenth of it, so a key is deleted
	// at most 10 % of its TTL late (bounded by maxBucket).
	bucketDivisor = 10
)

// bucketWidth is the expiry bucket of a TTL.
func bucketWidth(ttl time.Duration) time.Duration {
	return min(max(ttl/bucketDivisor, minBucket), maxBucket)
}

// leaseBuckets caches the shared lease of each expiry bucket.
type leaseBuckets struct {
	mu     sync.Mutex
	byEnd  map[int64]*bucketLease // bucket end (Unix ns) → its lease
	grants int                    // leases granted (for tests)
}

// bucketLease is one bucket's lease; ready is closed once the grant
// answered (err set when it failed).
type bucketLease struct {
	ready    chan struct{}
	id       clientv3.LeaseID
	deadline int64 // the lease certainly lives until then (Unix ns, local clock)
	err      error
}

func (l *leaseBuckets) init() { l.byEnd = map[int64]*bucketLease{} }

// forExpiry returns a lease that lives at least until exp (Unix ns): the
// lease of exp's bucket for ttl, granted on first use. Concurrent callers
// of one bucket wait for a single grant.
// The grant is bounded by timeout, not by ctx: other callers may wait for it.
func (l *leaseBuckets) forExpiry(ctx context.Context, cli *clientv3.Client, timeout time.Duration, exp int64, ttl time.Duration) (clientv3.LeaseID, error) {
	width := int64(bucketWidth(ttl))
	end := (exp + width - 1) / width * width
	l.mu.Lock()
	b := l.byEnd[end]
	if b == nil {
		b = &bucketLease{ready: make(chan struct{})}
		l.byEnd[end] = b
		l.grants++
		l.sweepLocked(time.Now().UnixNano())
		l.mu.Unlock()
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		l.grant(gctx, cli, b, end)
		cancel()
	} else {
		l.mu.Unlock()
	}
	select {
	case <-b.ready:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.deadline < exp { // cannot happen: the grant covers the bucket's end
		l.drop(b)
		return l.forExpiry(ctx, cli, timeout, exp, ttl)
	}
	return b.id, nil
}

// grant asks etcd for b's lease, to live past end, and marks b ready. A
// failed grant is not kept: the next caller tries again.
func (l *leaseBuckets) grant(ctx context.Context, cli *clientv3.Client, b *bucketLease, end int64) {
	defer close(b.ready)
	start := time.Now().UnixNano()
	// Whole seconds from now past the bucket's end, plus one for rounding.
	secs := (end-start+int64(time.Second)-1)/int64(time.Second) + 1
	resp, err := cli.Grant(ctx, secs)
	if err != nil {
		b.err = err
		l.drop(b)
		return
	}
	// etcd counts the TTL from when it grants, which is after start (it
	// may also make the TTL longer, never shorter).
	b.id, b.deadline = resp.ID, start+secs*int64(time.Second)
}

// drop forgets b if it is still its bucket's lease.
func (l *leaseBuckets) drop(b *bucketLease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for end, cur := range l.byEnd {
		if cur == b {
			delete(l.byEnd, end)
		}
	}
}

// forget drops every cached lease (etcd said one of them is gone, e.g.
// revoked by hand); the next puts get new ones.
func (l *leaseBuckets) forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.byEnd)
}

// sweepLocked forgets the leases that have ended.
func (l *leaseBuckets) sweepLocked(now int64) {
	for end, b := range l.byEnd {
		select {
		case <-b.ready:
			if b.err == nil && b.deadline < now {
				delete(l.byEnd, end)
			}
		default:
		}
	}
}

// granted is how many leases were asked for.
func (l *leaseBuckets) granted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.grants
}

// expiryCache remembers the expiry of a key at a revision (a key's value
// at one revision never changes), so that a condition on that revision
// can be checked inside the write transaction. It is bounded: when full
// it starts over.
type expiryCache struct {
	mu sync.Mutex
	m  map[revKey]int64
}

type revKey struct {
	key string
	rev int64
}

const maxExpiries = 1 << 14

func (c *expiryCache) init() { c.m = map[revKey]int64{} }

func (c *expiryCache) put(key string, rev, exp int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxExpiries {
		clear(c.m)
	}
	c.m[revKey{key, rev}] = exp
}

func (c *expiryCache) get(key string, rev int64) (exp int64, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, known = c.m[revKey{key, rev}]
	return exp, known
}
