package api_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// frozenWatch is a store whose watches open but never deliver: a node
// whose watch lags behind the other nodes' writes for as long as the test
// runs, so its record cache keeps whatever it read.
type frozenWatch struct{ storage.Store }

func (f frozenWatch) Watch(ctx context.Context, _ string) (<-chan storage.Event, error) {
	ch := make(chan storage.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

// TestRevokedDeviceRefusedThroughStaleCache: this node caches device
// records and its watch lags; another node revokes a device. The cached
// copy still says "enrolled", yet the device's next request is refused
// with ErrDeviceRevoked and its nonce is not consumed — whether the
// verifier consumes the nonce itself, or the request's action does
// (storage.DeferOnce: in the action's own transaction, or at Settle when
// the action wrote nothing), and nothing the action wrote is kept.
func TestRevokedDeviceRefusedThroughStaleCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := storagetest.MustOpen(t)
	cached, err := readcache.New(frozenWatch{raw}, readcache.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cached.Close() })
	for deadline := time.Now().Add(30 * time.Second); !cached.Live(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cache's watches did not open")
		}
	}
	master := bytes.Repeat([]byte{0x42}, 32)
	here, err := ca.New(cached, master, ca.DefaultConfig()) // this node
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.New(raw, master, ca.DefaultConfig()) // another node
	if err != nil {
		t.Fatal(err)
	}
	dv, err := auth.NewDeviceVerifier(cached, api.DeviceKeys(here), auth.DefaultDeviceConfig())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	request := func(ctx context.Context, dev string, key crypto.Signer) (string, error) {
		n++
		body := []byte(fmt.Sprintf(`{"n":%d}`, n))
		req := httptest.NewRequest("POST", "/v1/scan", bytes.NewReader(body))
		if err := protocol.SignRequest(req, body, dev, key, time.Now()); err != nil {
			t.Fatal(err)
		}
		_, _, err := dv.VerifyDeviceRequest(ctx, req, body)
		return "nonces/" + dev + "/" + strings.ToLower(req.Header.Get(protocol.HeaderNonce)), err
	}
	consumed := func(nonceKey string) bool {
		_, err := raw.Get(ctx, nonceKey)
		return err == nil
	}
	// enrolled returns a device enrolled on the other node, whose record
	// this node has cached by verifying two of its requests.
	enrolled := func() (string, crypto.Signer) {
		_, code, err := other.AddUser(ctx, ca.UserRequest{Name: fmt.Sprintf("user %d", n)})
		if err != nil {
			t.Fatal(err)
		}
		key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
		if err != nil {
			t.Fatal(err)
		}
		pem, err := gmcrypto.MarshalPublicKeyPEM(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		_, dev, err := other.Enroll(ctx, code, pem, "phone", "246810")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if nk, err := request(ctx, dev.ID, key); err != nil || !consumed(nk) {
				t.Fatalf("an enrolled device's request: %v (nonce consumed: %v)", err, consumed(nk))
			}
		}
		if _, err := other.RevokeDevice(ctx, dev.ID, "lost"); err != nil {
			t.Fatal(err)
		}
		// The precondition: this node's copy is stale.
		if d, err := here.Device(ctx, dev.ID); err != nil || d.Revoked() {
			t.Fatalf("this node's cached copy: %+v, %v; the test needs it stale (not revoked)", d, err)
		}
		return dev.ID, key
	}

	t.Run("verifier consumes the nonce", func(t *testing.T) {
		dev, key := enrolled()
		nk, err := request(ctx, dev, key)
		if !errors.Is(err, auth.ErrDeviceRevoked) || consumed(nk) {
			t.Fatalf("revoked device: %v (nonce consumed: %v), want ErrDeviceRevoked and no nonce", err, consumed(nk))
		}
	})
	t.Run("the action consumes the nonce", func(t *testing.T) {
		dev, key := enrolled()
		rctx, once := storage.DeferOnce(ctx)
		nk, err := request(rctx, dev, key)
		if err != nil {
			t.Fatalf("verified against the cached copy: %v", err)
		}
		_, actErr := storage.TxnOnce(rctx, cached, storage.Put("sessions/acted", []byte("x"), time.Minute))
		if err := once.Settle(rctx, actErr); !errors.Is(err, auth.ErrDeviceRevoked) {
			t.Fatalf("revoked device's action: %v (action: %v), want ErrDeviceRevoked", err, actErr)
		}
		if _, err := raw.Get(ctx, "sessions/acted"); !errors.Is(err, storage.ErrNotFound) || consumed(nk) {
			t.Fatalf("the refused action wrote (%v) or consumed its nonce (%v)", err, consumed(nk))
		}
	})
	t.Run("the handler settles the nonce", func(t *testing.T) {
		dev, key := enrolled()
		rctx, once := storage.DeferOnce(ctx)
		if _, err := request(rctx, dev, key); err != nil {
			t.Fatalf("verified against the cached copy: %v", err)
		}
		err := once.Settle(rctx, nil)
		if !errors.Is(err, auth.ErrDeviceRevoked) {
			t.Fatalf("revoked device's read-only request: %v, want ErrDeviceRevoked", err)
		}
	})
}
