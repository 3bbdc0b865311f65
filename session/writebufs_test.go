package session_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage/readcache"
	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/vault"
)

// The records and events a session writes are encoded into pooled
// buffers, reused once the write's store call has returned: sessions run
// concurrently through the node's store stack (bbolt, the vault, the
// record cache with a request memo per call) store and read back exactly
// what each wrote. Under -race, a store that read a value after its call
// returned would race with the buffer's next user.
func TestWriteBufsReuse(t *testing.T) {
	ctx := ctxFor(t)
	v, err := vault.Open(ctx, storagetest.MustOpen(t), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cached, err := readcache.New(v.Store, readcache.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cached.Close() })
	svc := newService(t, cached, testConfig(newClock()))

	const workers, each = 6, 8
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				p := loginParams()
				p.Request.Display.Title = fmt.Sprintf("登录 %d-%d %s", w, i, bytes.Repeat([]byte("x"), (w*each+i)*3))
				s, _, nonce, err := svc.Create(readcache.WithMemo(ctx), p)
				if err == nil {
					_, err = svc.Scan(readcache.WithMemo(ctx), s.ID, nonce, device, user)
				}
				if err == nil {
					_, err = svc.Confirm(readcache.WithMemo(ctx), s.ID, device, resultOf(s.ID))
				}
				if err != nil {
					errs <- err
					return
				}
				ids[w] = append(ids[w], s.ID)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range workers {
		for i, id := range ids[w] {
			s, err := svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("登录 %d-%d %s", w, i, bytes.Repeat([]byte("x"), (w*each+i)*3))
			if s.ID != id || s.State != session.StateCompleted || s.Request.Display.Title != want {
				t.Fatalf("session %s read back as %s, %s, %.20q", id, s.ID, s.State, s.Request.Display.Title)
			}
			evs, err := svc.Events(ctx, id, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := states(t, evs, 1); len(got) != 3 || got[2] != session.StateCompleted || string(evs[2].Result) != `{"v":"`+id+`"}` {
				t.Fatalf("session %s: events %v, result %s", id, got, evs[2].Result)
			}
		}
	}
}
