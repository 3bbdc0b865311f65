package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/webhook"
)

// BenchmarkDeliveries: b.N session events queued on a bbolt store, then
// sent to a receiver on loopback that answers 204 at once; the time from
// starting the sender to the last acknowledgement recorded.
func BenchmarkDeliveries(b *testing.B) {
	ctx := context.Background()
	st := storagetest.MustOpen(b)
	var got atomic.Int64
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(rs.Close)
	cfg := fastConfig()
	cfg.SingleNode = true
	n := newNode(b, st, cfg)
	if _, err := n.hooks.Set(ctx, appID, rs.URL); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, _, _, err := n.sess.Create(ctx, benchParams()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	n.hooks.Start()
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
	waitFor(b, "the acknowledgements recorded", func() bool { return pending(b, ctx, n.hooks) == 0 })
}

func benchParams() session.CreateParams {
	return session.CreateParams{
		Kind: session.KindLogin, AppID: appID, Origin: origin,
		Request: session.Request{Display: session.Display{Title: "登录"}},
		Desktop: session.Desktop{IP: "203.0.113.7", UserAgent: "bench"},
	}
}

// BenchmarkSessionCost: one session's three writes (create, scan, confirm
// with a result) on bbolt, without an outbox, with the outbox for an app
// that has no webhook (a read and a condition per event), and with a
// webhook (a delivery record, its body and a pending entry per event; the
// sender is not running, so only the outbox's cost is measured).
func BenchmarkSessionCost(b *testing.B) {
	for _, mode := range []string{"no-outbox", "outbox-no-webhook", "webhook"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			st := storagetest.MustOpen(b)
			scfg := session.DefaultConfig()
			scfg.ResultKey = resultKey
			scfg.ExpiryInterval = time.Hour
			if mode != "no-outbox" {
				h, err := webhook.New(st, fastConfig())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = h.Close() })
				if mode == "webhook" {
					if _, err := h.Set(ctx, appID, "http://127.0.0.1:9/hook"); err != nil {
						b.Fatal(err)
					}
				}
				scfg.Outbox = h
			}
			s, err := session.New(st, scfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			result := json.RawMessage(`{"user":"user_1","signature":"MEUCIQDx"}`)
			b.ResetTimer()
			for range b.N {
				sess, _, nonce, err := s.Create(ctx, benchParams())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Scan(ctx, sess.ID, nonce, device, user); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Confirm(ctx, sess.ID, device, func(*session.Session) (json.RawMessage, error) { return result, nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
