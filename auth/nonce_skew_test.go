package auth

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestNonceOutlivesSkewedNodes (security review finding 6): two nodes share
// one store, node A's clock runs δ ahead of node B's (B's is the wall
// clock, like the store's TTL clock). A accepts a request stamped at the
// future edge of its window; B would accept the same request until its own
// clock reaches timestamp + skew, so the nonce A recorded must still be in
// the store then. The check reads the stored nonce's expiry instead of
// waiting for it.
func TestNonceOutlivesSkewedNodes(t *testing.T) {
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := deviceTable{"dev_phone": key.Public()}
	for _, tc := range []struct {
		name  string
		skew  time.Duration
		delta time.Duration
	}{
		{"default skew, nodes 45 s apart", 300 * time.Second, 45 * time.Second},
		{"default skew, nodes one skew apart", 300 * time.Second, 300 * time.Second},
		{"1 s skew, nodes 30 s apart", time.Second, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			st := storagetest.MustOpen(t)
			aheadBy := tc.delta
			a, err := NewDeviceVerifier(st, keys, DeviceConfig{ClockSkew: tc.skew, Now: func() time.Time { return time.Now().Add(aheadBy) }})
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewDeviceVerifier(st, keys, DeviceConfig{ClockSkew: tc.skew})
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(`{"pin":"246810"}`)
			req := httptest.NewRequest("PUT", "/v1/me/pin", bytes.NewReader(body))
			// Stamped at the future edge of A's window (whole seconds).
			stamp := time.Now().Add(aheadBy + tc.skew - time.Second).Truncate(time.Second)
			if err := protocol.SignRequest(req, body, "dev_phone", key, stamp); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.VerifyDeviceRequest(ctx, req, body); err != nil {
				t.Fatalf("node A: %v", err)
			}
			if _, _, err := b.VerifyDeviceRequest(ctx, req, body); !errors.Is(err, ErrReplayedNonce) && !errors.Is(err, ErrStaleTimestamp) {
				t.Fatalf("immediate replay on node B: %v", err)
			}
			kv, err := st.Get(ctx, pfxNonces+"dev_phone/"+strings.ToLower(req.Header.Get(protocol.HeaderNonce)))
			if err != nil {
				t.Fatalf("the nonce is not stored: %v", err)
			}
			// Node B (wall clock) accepts the timestamp until stamp + skew.
			lastAccepted := stamp.Add(tc.skew)
			if kv.ExpiresAt.IsZero() || kv.ExpiresAt.Before(lastAccepted) {
				t.Fatalf("the nonce expires at %s, but node B accepts the request until %s", kv.ExpiresAt.Format(time.RFC3339), lastAccepted.Format(time.RFC3339))
			}
		})
	}
}

// TestNonceTTL: the nonce lifetime is 2×skew plus max(skew, 60 s).
func TestNonceTTL(t *testing.T) {
	for _, tc := range []struct{ skew, want time.Duration }{
		{time.Second, 62 * time.Second},
		{30 * time.Second, 120 * time.Second},
		{300 * time.Second, 900 * time.Second},
	} {
		if got := (DeviceConfig{ClockSkew: tc.skew}).NonceTTL(); got != tc.want {
			t.Errorf("NonceTTL(skew %s) = %s, want %s", tc.skew, got, tc.want)
		}
	}
}
