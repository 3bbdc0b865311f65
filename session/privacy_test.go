package session_test

import (
	"strings"
	"testing"
)

// TestUserSessionsAndForgetUser: a user's stored sessions are listed
// without their results and deleted with every event; another user's and
// a session nobody scanned stay.
func TestUserSessionsAndForgetUser(t *testing.T) {
	e := newEnv(t)
	a := e.scanned(t)
	if _, err := e.svc.Confirm(e.ctx, a.ID, device, resultOf("certificate of user_1")); err != nil {
		t.Fatal(err)
	}
	b := e.scanned(t)
	other := e.create(t, loginParams())
	if _, err := e.svc.Scan(e.ctx, other.ID, other.nonce, device2, "user_2"); err != nil {
		t.Fatal(err)
	}
	waiting := e.create(t, loginParams())

	list, err := e.svc.UserSessions(e.ctx, user)
	if err != nil || len(list) != 2 {
		t.Fatalf("UserSessions = %d, %v", len(list), err)
	}
	for _, s := range list {
		if s.UserID != user || len(s.Result) != 0 || (s.ID != a.ID && s.ID != b.ID) {
			t.Fatalf("listed %+v", s)
		}
	}
	if n, err := e.svc.ForgetUser(e.ctx, user); err != nil || n != 2 {
		t.Fatalf("ForgetUser = %d, %v", n, err)
	}
	kvs, _, err := e.st.List(e.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if strings.Contains(kv.Key, a.ID) || strings.Contains(kv.Key, b.ID) {
			t.Fatalf("%s left", kv.Key)
		}
	}
	for _, id := range []string{other.ID, waiting.ID} {
		if _, err := e.svc.Get(e.ctx, id); err != nil {
			t.Fatalf("another session %s: %v", id, err)
		}
	}
	if n, err := e.svc.ForgetUser(e.ctx, user); err != nil || n != 0 {
		t.Fatalf("again: %d, %v", n, err)
	}
	if list, err := e.svc.UserSessions(e.ctx, ""); err != nil || len(list) != 0 {
		t.Fatalf("UserSessions(\"\") = %+v, %v", list, err)
	}
}
