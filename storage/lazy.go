package storage

import "context"

// An Opener turns the value of a put event delivered by WatchLazy into
// the value Watch would have delivered (the vault decrypts it). Each call
// opens again: a caller that hands one event to several readers opens it
// once and shares the result. Like a watched value, the result may be
// shared with the store and other watchers: read it, never change it. It
// may be called from any goroutine, after the watch has ended too; for a
// delete event there is nothing to open.
type Opener func(key string, value []byte) ([]byte, error)

// LazyWatcher is a Store whose Watch transforms every value it delivers
// (the vault's sealed view opens each one) and that can also watch
// without doing so, for a watcher that needs few of the values or none.
type LazyWatcher interface {
	// WatchLazy is Watch, except that a put event's KV.Value is the value
	// as the store below holds it (shared with other watchers: read it,
	// never change it) and a value that cannot be opened does not end the
	// watch: open reports it when the caller opens that value.
	WatchLazy(ctx context.Context, prefix string) (<-chan Event, Opener, error)
}

// Watcher is what WatchLazy needs of a store (a Store, or a package's
// narrower view of one).
type Watcher interface {
	Watch(ctx context.Context, prefix string) (<-chan Event, error)
}

// WatchLazy watches prefix on s for a caller that opens the values it
// needs, with open, when it needs them: from a LazyWatcher without
// opening any value beforehand, else with Watch (the values are then
// already opened and open returns its argument).
func WatchLazy(ctx context.Context, s Watcher, prefix string) (<-chan Event, Opener, error) {
	if w, ok := s.(LazyWatcher); ok {
		return w.WatchLazy(ctx, prefix)
	}
	ch, err := s.Watch(ctx, prefix)
	return ch, openAsIs, err
}

// openAsIs is the Opener of a store whose watch delivers values as Get
// returns them.
func openAsIs(_ string, value []byte) ([]byte, error) { return value, nil }
