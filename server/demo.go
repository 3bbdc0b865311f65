package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/demo"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/webhook"
)

// The demo portal (config demo: true) is a portal like any other: it
// holds an app key and calls the gateway at public_url over HTTP. App keys
// are stored hashed and shown once, so the server keeps the demo app's key
// itself, wrapped (SM4-GCM) under a key derived from the master key, in one
// record. Every boot reuses that app; a new one is registered only when the
// record is missing or unusable (another master key, the app gone) or
// public_url's origin changed.

// DemoAppName is the name of the app the demo portal runs as.
const DemoAppName = "Demo procurement portal"

const (
	// demoAppKey is the store key of the demo app's record.
	demoAppKey = "demo/app"
	// purposeDemoAppKey labels the KEK that wraps the demo app's key.
	purposeDemoAppKey = "demo-app-key"
	demoSaltLen       = 16
	// demoAppTries bounds the compare-and-swap loop when several nodes
	// boot at once.
	demoAppTries = 3
)

// demoActor is the audit actor of what the gateway registers for the
// demo on its own (the demo app and its webhook).
const demoActor = "gateway"

// demoAppRecord is what is stored under demoAppKey.
type demoAppRecord struct {
	AppID string `json:"app_id"`
	// Salt is the HKDF salt of the KEK.
	Salt []byte `json:"salt"`
	// WrappedKey is gmcrypto.Wrap(KEK, app key, ad = demoAppKey + "/" + AppID).
	WrappedKey []byte `json:"wrapped_key"`
}

// demoHandler registers (or finds) the demo app and builds the demo
// portal over it.
func (s *Server) demoHandler(ctx context.Context, apps *auth.Apps, hooks *webhook.Service, alog *audit.Log) (http.Handler, error) {
	gw := s.cfg.PublicBaseURL()
	u, err := url.Parse(gw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("server: demo: public_url %q is not an absolute URL", gw)
	}
	origin, err := auth.NormalizeOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return nil, fmt.Errorf("server: demo: public_url origin: %w", err)
	}
	appID, key, err := s.demoApp(ctx, apps, origin, alog)
	if err != nil {
		return nil, err
	}
	cfg := demo.DefaultConfig()
	cfg.GatewayURL = gw
	cfg.AppKey = key
	cfg.AppID = appID
	cfg.Origin = origin
	cfg.Prefix = api.PathDemo
	cfg.FrameAncestors = s.cfg.HTTP.FrameAncestors
	cfg.Logger = s.log.With("component", "demo")
	// The demo takes its results from its webhook, on this gateway.
	hookURL := gw + api.PathDemo + "/webhook"
	hctx := alog.WithAction(ctx, func(res any) audit.Entry {
		return audit.Entry{Action: "app.webhook.set", Actor: demoActor, AppID: appID, Detail: "url=" + res.(*protocol.Webhook).URL + " demo"}
	})
	if cfg.WebhookSecret, err = hooks.Ensure(hctx, appID, hookURL); err != nil {
		s.log.Warn("demo: no webhook; the demo reads results from the gateway", "url", hookURL, "err", err)
	}
	h, err := demo.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("server: demo: %w", err)
	}
	return h, nil
}

// demoApp returns the id and key of the demo app allowed on origin,
// registering it (and remembering its wrapped key) when needed.
func (s *Server) demoApp(ctx context.Context, apps *auth.Apps, origin string, alog *audit.Log) (id, key string, err error) {
	for range demoAppTries {
		kv, err := s.store.Get(ctx, demoAppKey)
		var rev int64
		switch {
		case err == nil:
			rev = kv.Revision
			id, key, why := s.openDemoApp(ctx, apps, kv.Value, origin)
			if why == nil {
				return id, key, nil
			}
			s.log.Warn("demo: registering a new demo app", "reason", why.Error())
		case errors.Is(err, storage.ErrNotFound):
		default:
			return "", "", fmt.Errorf("server: demo: reading the demo app: %w", err)
		}
		// Audited like an operator's app.add, the gateway as its actor.
		actx := alog.WithAction(ctx, func(res any) audit.Entry {
			return audit.Entry{Action: "app.add", Actor: demoActor, AppID: res.(*auth.App).ID, Detail: "demo"}
		})
		app, key, err := apps.Create(actx, DemoAppName, []string{origin})
		if err != nil {
			return "", "", fmt.Errorf("server: demo: registering the demo app: %w", err)
		}
		b, err := s.sealDemoApp(app.ID, key)
		if err != nil {
			return "", "", err
		}
		if rev == 0 {
			_, err = storage.Create(ctx, s.store, demoAppKey, b, 0)
		} else {
			_, err = storage.CompareAndSwap(ctx, s.store, demoAppKey, rev, b, 0)
		}
		if errors.Is(err, storage.ErrConflict) {
			// Another node stored its demo app first: use that one (ours
			// stays registered, unused).
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("server: demo: storing the demo app: %w", err)
		}
		s.log.Info("demo: registered the demo app", "app", app.ID, "origin", origin)
		return app.ID, key, nil
	}
	return "", "", fmt.Errorf("server: demo: the demo app record kept changing")
}

// openDemoApp unwraps a stored record and checks that its key still
// authenticates its app and that the app allows origin; a non-nil error
// says why the record is unusable.
func (s *Server) openDemoApp(ctx context.Context, apps *auth.Apps, raw []byte, origin string) (string, string, error) {
	var rec demoAppRecord
	if err := json.Unmarshal(raw, &rec); err != nil || rec.AppID == "" {
		return "", "", errors.New("malformed record")
	}
	kek, err := gmcrypto.DeriveKey(s.master, purposeDemoAppKey, rec.Salt)
	if err != nil {
		return "", "", errors.New("malformed record")
	}
	defer gmcrypto.Zero(kek)
	k, err := gmcrypto.Unwrap(kek, rec.WrappedKey, []byte(demoAppKey+"/"+rec.AppID))
	if err != nil {
		return "", "", errors.New("the stored key does not open (another master key?)")
	}
	app, err := apps.Authenticate(ctx, string(k))
	if errors.Is(err, auth.ErrAppDisabled) {
		// The operator's word stands: keep the app (the demo's calls are
		// refused) rather than register a new one behind their back.
		s.log.Warn("demo: the demo app is disabled; its pages will fail (set demo: false to remove /demo)", "app", rec.AppID)
		return rec.AppID, string(k), nil
	}
	if err != nil || app.ID != rec.AppID {
		return "", "", errors.New("the stored key no longer authenticates the demo app (key rotated?)")
	}
	if !app.AllowsOrigin(origin) {
		return "", "", fmt.Errorf("public_url's origin %s is not the demo app's", origin)
	}
	return app.ID, string(k), nil
}

// sealDemoApp builds the record of a demo app and its key.
func (s *Server) sealDemoApp(appID, key string) ([]byte, error) {
	salt, err := gmcrypto.RandomBytes(demoSaltLen)
	if err != nil {
		return nil, err
	}
	kek, err := gmcrypto.DeriveKey(s.master, purposeDemoAppKey, salt)
	if err != nil {
		return nil, fmt.Errorf("server: demo: %w", err)
	}
	defer gmcrypto.Zero(kek)
	w, err := gmcrypto.Wrap(kek, []byte(key), []byte(demoAppKey+"/"+appID))
	if err != nil {
		return nil, fmt.Errorf("server: demo: %w", err)
	}
	return json.Marshal(demoAppRecord{AppID: appID, Salt: salt, WrappedKey: w})
}
