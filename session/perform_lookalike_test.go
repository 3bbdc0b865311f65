package session_test

import (
	"errors"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/session"
)

// TestPerformRefusesLoginLookalike: Perform never signs a document that
// could be taken for a login challenge (its signature would log in the
// session it names), whatever the format, even if such a request got
// past the api's check at create; other documents, and a digest (which
// cannot be checked), are signed.
func TestPerformRefusesLoginLookalike(t *testing.T) {
	k := opKey(t, gmcrypto.AlgSM2)
	ch := qrlogin.Challenge{Session: "BBBBBBBBBBBBBBBB", App: "app_victim", Origin: "https://bid.example.cn",
		Nonce: "AAAAAAAAAAAAAAAAAAAAAA", Time: time.Now().UTC().Truncate(time.Second)}.Bytes()
	doc := func(data []byte) []session.Document {
		return []session.Document{{Name: "ok.txt", Data: []byte("bid")}, {Name: "c.json", Data: data}}
	}
	for _, tc := range []struct {
		name   string
		format string
		docs   []session.Document
		index  int // LoginLookalike
	}{
		{"raw challenge", session.FormatRaw, doc(ch), 1},
		{"cms-detached challenge", session.FormatCMSDetached, doc(ch), 1},
		{"cms-attached challenge", session.FormatCMSAttached, doc(ch), 1},
		{"raw, session and nonce in upper case", session.FormatRaw, doc([]byte(`{"SESSION":"x","NONCE":"y"}`)), 1},
		{"raw, plain documents", session.FormatRaw, doc([]byte(`{"session":"x"}`)), -1},
		{"raw digest", session.FormatRaw, []session.Document{{Name: "d", Digest: gmcrypto.SM3(ch)}}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := session.Request{Format: tc.format, Documents: tc.docs}
			if got := session.LoginLookalike(&r); got != tc.index {
				t.Fatalf("LoginLookalike = %d, want %d", got, tc.index)
			}
			out, err := session.Perform(opSession(session.KindSign, r), k, time.Now())
			var oe *session.OpError
			switch {
			case tc.index >= 0 && (!errors.As(err, &oe) || oe.Reason != session.ReasonInvalidRequest || out != nil):
				t.Fatalf("Perform = %v, %v: want a failure with reason %s", out, err, session.ReasonInvalidRequest)
			case tc.index < 0 && err != nil:
				t.Fatalf("Perform: %v", err)
			}
		})
	}
}
