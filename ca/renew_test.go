package ca

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// TestRenewCredential: a renewal certifies the same key anew, takes the
// slot and supersedes the old credential; refused renewals change nothing.
func TestRenewCredential(t *testing.T) {
	f := newFixture(t)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			f.generated(t, "iss-"+strings.ToLower(string(alg)), alg, nil)
			user := f.enrolled(t, UserRequest{Name: "张三"})
			other := f.enrolled(t, UserRequest{Name: "李四"})
			old := f.credential(t, user, "iss-"+strings.ToLower(string(alg)), alg, PurposeEncrypt)

			before := f.snapshot(t)
			for _, tt := range []struct {
				name       string
				user, cred string
				want       error
			}{
				{"another user's", other, old.ID, ErrCredentialNotFound},
				{"unknown", user, "crd_aaaaaaaaaaaaaaaaaaaa", ErrCredentialNotFound},
			} {
				_, err := f.svc.RenewCredential(f.ctx, tt.user, tt.cred, testPIN, false)
				wantErr(t, tt.name, err, tt.want)
			}
			if f.snapshot(t) != before {
				t.Fatal("a refused renewal changed the store")
			}
			var pe *PINError
			if _, err := f.svc.RenewCredential(f.ctx, user, old.ID, "135799", false); !errors.As(err, &pe) {
				t.Fatalf("wrong PIN: %v", err)
			}

			renewed, err := f.svc.RenewCredential(f.ctx, user, old.ID, testPIN, false)
			if err != nil {
				t.Fatal(err)
			}
			if renewed.State != StateActive || renewed.ID == old.ID || renewed.Serial == old.Serial || renewed.Purpose != PurposeEncrypt {
				t.Fatalf("renewed %+v", renewed)
			}
			oldPub, _ := gmcrypto.MarshalPublicKey(old.Certificate.PublicKey)
			newPub, _ := gmcrypto.MarshalPublicKey(renewed.Certificate.PublicKey)
			if !bytes.Equal(oldPub, newPub) {
				t.Fatal("the renewal certifies another key")
			}
			got, err := f.svc.Credential(f.ctx, old.ID)
			if err != nil || got.State != StateSuperseded {
				t.Fatalf("old credential after renewal: %+v, %v", got, err)
			}
			list, err := f.svc.Credentials(f.ctx, CredentialFilter{UserID: user, State: StateSuperseded})
			if err != nil || len(list) != 1 || list[0].ID != old.ID {
				t.Fatalf("superseded list %v, %v", list, err)
			}
			// The superseded one cannot be renewed again; nothing changes.
			before = f.snapshot(t)
			_, err = f.svc.RenewCredential(f.ctx, user, old.ID, testPIN, false)
			wantErr(t, "superseded", err, ErrCredentialNotActive)
			if f.snapshot(t) != before {
				t.Fatal("renewing a superseded credential changed the store")
			}
			// The renewal's key opens under the PIN.
			k, _, err := f.svc.UnlockKey(f.ctx, user, renewed.ID, testPIN)
			if err != nil {
				t.Fatal(err)
			}
			gmcrypto.ZeroKey(k)
		})
	}
}
