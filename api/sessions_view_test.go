package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// interleavingStore is a real store that runs then once, right after it
// has read key (and before it hands the value back): another node's
// write landing between two reads of a handler.
type interleavingStore struct {
	storage.Store
	mu   sync.Mutex
	key  string
	then func()
}

func (s *interleavingStore) Get(ctx context.Context, key string) (storage.KV, error) {
	kv, err := s.Store.Get(ctx, key)
	s.mu.Lock()
	then := s.then
	if key == s.key {
		s.then = nil
	}
	s.mu.Unlock()
	if key == s.key && then != nil {
		then()
	}
	return kv, err
}

func (s *interleavingStore) after(key string, then func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.then = key, then
}

// TestGetSessionOneRead: GET /v1/sessions/{id} shows state, reason,
// ended_at and result that belong together even when the session ends
// (on another node) between the handler's read of the session and its
// read of the events.
func TestGetSessionOneRead(t *testing.T) {
	t.Parallel()
	raw := storagetest.MustOpen(t)
	st := &interleavingStore{Store: raw}
	master := bytes.Repeat([]byte{0x42}, 32)
	resultKey, err := gmcrypto.DeriveKey(master, session.ResultKeyPurpose, nil)
	if err != nil {
		t.Fatal(err)
	}
	newSvc := func(s storage.Store) *session.Service {
		cfg := session.DefaultConfig()
		cfg.ResultKey = resultKey
		svc, err := session.New(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Close() })
		return svc
	}
	here, other := newSvc(st), newSvc(raw) // this node and another
	caSvc, err := ca.New(raw, master, ca.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dv, err := auth.NewDeviceVerifier(raw, api.DeviceKeys(caSvc), auth.DefaultDeviceConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Deps{CA: caSvc, Apps: auth.NewApps(raw), Admin: auth.NewAdmin(""),
		Devices: dv, Sessions: here}))
	t.Cleanup(srv.Close)
	ctx := context.Background()

	for _, tc := range []struct {
		name   string
		end    func(id string) error
		state  session.State
		reason string
		result string
	}{
		{"failed", func(id string) error {
			_, err := other.Fail(ctx, id, "dev_1", "wrong_code")
			return err
		}, session.StateFailed, "wrong_code", ""},
		{"completed", func(id string) error {
			_, err := other.Confirm(ctx, id, "dev_1", func(*session.Session) (json.RawMessage, error) {
				return json.RawMessage(`{"signature":"AQID"}`), nil
			})
			return err
		}, session.StateCompleted, "", `{"signature":"AQID"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, token, nonce, err := here.Create(ctx, session.CreateParams{
				Kind: session.KindLogin, AppID: "app_1", Origin: "https://bid.example.cn",
				Request: session.Request{Display: session.Display{Title: "登录"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := here.Scan(ctx, s.ID, nonce, "dev_1", "usr_1"); err != nil {
				t.Fatal(err)
			}
			var endErr error
			st.after("sessions/"+s.ID, func() { endErr = tc.end(s.ID) })
			resp, err := http.Get(srv.URL + "/v1/sessions/" + s.ID + "?token=" + token)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if endErr != nil {
				t.Fatalf("ending the session between the reads: %v", endErr)
			}
			var v struct {
				State   session.State   `json:"state"`
				Reason  string          `json:"reason"`
				EndedAt time.Time       `json:"ended_at"`
				Events  []session.Event `json:"events"`
				Result  json.RawMessage `json:"result"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET: %d %v", resp.StatusCode, err)
			}
			last := v.Events[len(v.Events)-1]
			if v.State != tc.state || last.State != tc.state || v.Reason != tc.reason || string(v.Result) != tc.result ||
				!v.EndedAt.Equal(last.At) || v.EndedAt.IsZero() {
				t.Fatalf("GET shows state %s, reason %q, ended_at %v, result %s; the last event %+v", v.State, v.Reason, v.EndedAt, v.Result, last)
			}
		})
	}
}
