package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// wrapStore is the real store seen through a view whose watches deliver
// every value wrapped (as the vault's sealed view delivers sealed values
// to WatchLazy) and which counts the opens of each key's values: by a
// lazy watch's Opener, or by Watch, which opens every value it delivers.
type wrapStore struct {
	storage.Store
	mu    sync.Mutex
	opens map[string]int
}

const wrapMark = "wrapped:"

var errNotWrapped = errors.New("test: value not wrapped")

func (s *wrapStore) open(key string, value []byte) ([]byte, error) {
	s.mu.Lock()
	s.opens[key]++
	s.mu.Unlock()
	v, ok := bytes.CutPrefix(value, []byte(wrapMark))
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNotWrapped, key)
	}
	return v, nil
}

func (s *wrapStore) WatchLazy(ctx context.Context, prefix string) (<-chan storage.Event, storage.Opener, error) {
	in, err := s.Store.Watch(ctx, prefix)
	if err != nil {
		return nil, nil, err
	}
	out := make(chan storage.Event, cap(in))
	go func() {
		defer close(out)
		for ev := range in {
			if ev.Type == storage.EventPut {
				ev.KV.Value = append([]byte(wrapMark), ev.KV.Value...)
			}
			out <- ev
		}
	}()
	return out, s.open, nil
}

func (s *wrapStore) Watch(ctx context.Context, prefix string) (<-chan storage.Event, error) {
	in, open, err := s.WatchLazy(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make(chan storage.Event, cap(in))
	go func() {
		defer close(out)
		for ev := range in {
			if ev.Type == storage.EventPut {
				v, err := open(ev.KV.Key, ev.KV.Value)
				if err != nil {
					return
				}
				ev.KV.Value = v
			}
			out <- ev
		}
	}()
	return out, nil
}

// opened returns how often the values of the keys under prefix were
// opened, by key.
func (s *wrapStore) opened(prefix string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int)
	for k, n := range s.opens {
		if strings.HasPrefix(k, prefix) {
			m[k] = n
		}
	}
	return m
}

// The hub's store watch opens a value only when it decodes it: each event
// of a followed session once, for all its watchers; never a session's
// record, nor the events of a session nobody here follows or knows.
func TestHubOpensOnlyWhatItDecodes(t *testing.T) {
	st := &wrapStore{Store: storagetest.MustOpen(t), opens: make(map[string]int)}
	clk := newClock()
	a := newService(t, st, testConfig(clk))
	b := newService(t, st, testConfig(clk)) // another node: its hub never starts
	ctx := ctxFor(t)

	followed, _, nonce, err := a.Create(ctx, loginParams())
	if err != nil {
		t.Fatal(err)
	}
	var ws []*session.Watcher
	for range 2 {
		w, err := a.Watch(ctx, followed.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ev := next(t, w); ev.State != session.StateWaiting {
			t.Fatalf("first %+v", ev)
		}
		ws = append(ws, w)
	}
	waitHubOpen(t, a)

	// A session of node B's that nobody follows, all of it committed
	// before the followed one moves on.
	other, _, otherNonce, err := b.Create(ctx, loginParams())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Scan(ctx, other.ID, otherNonce, device, user); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Confirm(ctx, other.ID, device, resultOf("other")); err != nil {
		t.Fatal(err)
	}

	if _, err := b.Scan(ctx, followed.ID, nonce, device, user); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Confirm(ctx, followed.ID, device, resultOf("done")); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		got := collect(t, w)
		if len(got) != 2 || got[0].State != session.StateScanned || got[1].State != session.StateCompleted || string(got[1].Result) != `{"v":"done"}` {
			t.Fatalf("watcher %d saw %+v", i, got)
		}
	}
	// The hub dispatches in commit order: every commit above has been
	// dispatched once the followed session's last event reached its
	// watchers. Opened: the followed session's two events since the
	// watchers came, once each; not its record, nor anything of the other
	// session.
	want := map[string]int{
		"sessions/" + followed.ID + "/events/0000000000000002": 1,
		"sessions/" + followed.ID + "/events/0000000000000003": 1,
	}
	if got := st.opened("sessions/"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("opened %v, want %v", got, want)
	}
}
