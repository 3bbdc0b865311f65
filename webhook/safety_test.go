package webhook_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/webhook"
)

func TestSetRefusesBadAndPrivateURLs(t *testing.T) {
	ctx := ctxFor(t)
	st := storagetest.MustOpen(t)
	cfg := fastConfig()
	cfg.AllowPrivate = false
	n := newNode(t, st, cfg)
	for _, tc := range []struct {
		url  string
		want error
	}{
		{"", webhook.ErrInvalidURL},
		{"ftp://hooks.example.cn/x", webhook.ErrInvalidURL},
		{"javascript:alert(1)", webhook.ErrInvalidURL},
		{"/relative/path", webhook.ErrInvalidURL},
		{"https://user:pw@hooks.example.cn/", webhook.ErrInvalidURL},
		{"https://hooks.example.cn/#frag", webhook.ErrInvalidURL},
		{"https://hooks.example.cn:99999/", webhook.ErrInvalidURL},
		{"http://127.0.0.1:8080/hook", webhook.ErrTargetNotAllowed},
		{"http://localhost/hook", webhook.ErrTargetNotAllowed},
		{"http://10.1.2.3/hook", webhook.ErrTargetNotAllowed},
		{"http://172.16.0.1/hook", webhook.ErrTargetNotAllowed},
		{"http://192.168.1.1/hook", webhook.ErrTargetNotAllowed},
		{"http://169.254.169.254/latest/meta-data", webhook.ErrTargetNotAllowed},
		{"http://100.64.0.1/", webhook.ErrTargetNotAllowed},
		{"http://0.0.0.0/", webhook.ErrTargetNotAllowed},
		{"http://[::1]/hook", webhook.ErrTargetNotAllowed},
		{"http://[fe80::1]/hook", webhook.ErrTargetNotAllowed},
		{"http://[fd00::1]/hook", webhook.ErrTargetNotAllowed},
		{"http://[::ffff:127.0.0.1]/hook", webhook.ErrTargetNotAllowed},
	} {
		_, err := n.hooks.Set(ctx, appID, tc.url)
		if !errors.Is(err, tc.want) {
			t.Errorf("Set(%q) = %v, want %v", tc.url, err, tc.want)
		}
	}
	if _, err := n.hooks.Get(ctx, appID); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("a refused URL left a webhook: %v", err)
	}
	// A public address literal is fine (nothing is sent at registration).
	if _, err := n.hooks.Set(ctx, appID, "https://203.0.114.9/hook"); err != nil {
		t.Fatalf("public address refused: %v", err)
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2400:3200::1": true, "127.0.0.1": false, "10.0.0.1": false,
		"::ffff:10.0.0.1": false, "169.254.1.1": false, "224.0.0.1": false, "::": false, "fc00::1": false,
		"192.0.2.1": false, "198.18.0.1": false, "255.255.255.255": false,
	} {
		if got := webhook.PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// A webhook stored while private targets were allowed is still refused
// by the dialer of a sender that does not allow them: the check is on the
// address dialled, at every attempt. Nothing reaches the receiver.
func TestDialRefusesPrivateTargets(t *testing.T) {
	ctx := ctxFor(t)
	st := storagetest.MustOpen(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)

	lax := newNode(t, st, fastConfig())
	if _, err := lax.hooks.Set(ctx, appID, srv.URL); err != nil {
		t.Fatal(err)
	}
	lax.close()
	cfg := fastConfig()
	cfg.AllowPrivate = false
	cfg.SingleNode = true
	strict := newNode(t, st, cfg)
	strict.hooks.Start()
	strict.run(t, ctx)
	waitFor(t, "attempts refused at dial", func() bool {
		list, _, err := strict.hooks.List(ctx, appID, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(list) > 0 && list[0].Attempts >= 2
	})
	list, _, _ := strict.hooks.List(ctx, appID, "", 10)
	if d := list[0]; d.State != protocol.DeliveryPending || d.LastError != "target address not allowed" || d.LastStatus != 0 {
		t.Fatalf("delivery %+v: want pending, refused at dial", d)
	}
	if hits.Load() != 0 {
		t.Fatalf("the private receiver was reached %d times", hits.Load())
	}
}

// A redirect is an answer, not an acknowledgement: never followed.
func TestRedirectNotFollowed(t *testing.T) {
	ctx := ctxFor(t)
	st := storagetest.MustOpen(t)
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	cfg := fastConfig()
	cfg.SingleNode = true
	n := newNode(t, st, cfg)
	if _, err := n.hooks.Set(ctx, appID, redirect.URL); err != nil {
		t.Fatal(err)
	}
	n.hooks.Start()
	n.run(t, ctx)
	waitFor(t, "two attempts", func() bool {
		list, _, _ := n.hooks.List(ctx, appID, "", 10)
		return len(list) > 0 && list[0].Attempts >= 2
	})
	list, _, _ := n.hooks.List(ctx, appID, "", 10)
	if d := list[0]; d.State != protocol.DeliveryPending || d.LastStatus != http.StatusTemporaryRedirect {
		t.Fatalf("delivery %+v: want pending with last status 307", d)
	}
	if followed.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

// An answer is read up to MaxResponseBytes and no further: a receiver
// that answers 200 with an endless body still acknowledges at once.
func TestResponseReadingCapped(t *testing.T) {
	ctx := ctxFor(t)
	st := storagetest.MustOpen(t)
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 4096)
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	cfg := fastConfig()
	cfg.SingleNode = true
	cfg.MaxResponseBytes = 8 << 10
	n := newNode(t, st, cfg)
	if _, err := n.hooks.Set(ctx, appID, srv.URL); err != nil {
		t.Fatal(err)
	}
	n.hooks.Start()
	n.run(t, ctx)
	waitFor(t, "three deliveries acknowledged", func() bool {
		list, _, _ := n.hooks.List(ctx, appID, "", 10)
		done := 0
		for _, d := range list {
			if d.State == protocol.DeliveryDelivered && d.LastStatus == 200 {
				done++
			}
		}
		return done == 3
	})
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.cn/x", "http://127.0.0.1:1/", "http://[::ffff:10.0.0.1]/", "ftp://a", "//a/b",
		"https://a.example/#x", "http://%31%32%37.0.0.1/", "http://0x7f.1/", "https://user@a.example/", "http://[fe80::1%25eth0]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := webhook.CheckURL(raw, false)
		if err != nil {
			if !errors.Is(err, webhook.ErrInvalidURL) && !errors.Is(err, webhook.ErrTargetNotAllowed) {
				t.Fatalf("CheckURL(%q): unexpected error %v", raw, err)
			}
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("CheckURL accepted %q (%+v)", raw, u)
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !webhook.PublicAddr(ip) {
			t.Fatalf("CheckURL accepted the private address literal of %q", raw)
		}
	})
}
