package storage

import "context"

// SharedGetter is a Store that can hand out a stored value without
// copying it (a record cache, package readcache, hands out the copy it
// keeps).
type SharedGetter interface {
	// GetShared is Get, except that kv.Value may be shared with the
	// store and other readers: the caller must not change it (it never
	// changes, so reading or keeping it is fine).
	GetShared(ctx context.Context, key string) (KV, error)
}

// Getter is what GetShared needs of a store (a Store, or a package's
// narrower view of one).
type Getter interface {
	Get(ctx context.Context, key string) (KV, error)
}

// GetShared reads key from s for a caller that only reads the value (to
// decode it, say): without a copy when s is a SharedGetter, else with
// Get. The caller must not change kv.Value.
func GetShared(ctx context.Context, s Getter, key string) (KV, error) {
	if g, ok := s.(SharedGetter); ok {
		return g.GetShared(ctx, key)
	}
	return s.Get(ctx, key)
}
