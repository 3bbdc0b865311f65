package ca

import (
	"context"
	"errors"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/seal"
)

func TestSealRegistry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	alice := f.enrolled(t, UserRequest{Name: "alice"})
	bob := f.enrolled(t, UserRequest{Name: "bob"})
	req := SealRequest{Owner: alice, Name: "公章", Kind: seal.KindOfficial, ImagePNG: testkit.SquarePNG(t), WidthMM: 40, HeightMM: 40}

	// No signing credential yet: refused, nothing stored.
	before := f.snapshot(t)
	if _, err := f.svc.CreateSeal(ctx, req); !errors.Is(err, ErrNoSigningCredential) {
		t.Fatalf("no credential: %v", err)
	}
	if f.snapshot(t) != before {
		t.Fatal("a refused seal changed the store")
	}
	cred := f.credential(t, alice, "sm2", gmcrypto.AlgSM2, PurposeSign)
	bad := req
	bad.ImagePNG = []byte("GIF89a")
	if _, err := f.svc.CreateSeal(ctx, bad); !errors.Is(err, seal.ErrBadImage) {
		t.Fatalf("bad image: %v", err)
	}
	// A name the phone would not show as it reads: refused.
	for _, name := range []string{"公\u202e章同合", "公\u200b章", "\xff章"} {
		hidden := req
		hidden.Name = name
		var re *RequestError
		if _, err := f.svc.CreateSeal(ctx, hidden); !errors.As(err, &re) || re.Field != "name" {
			t.Fatalf("seal name %q: %v", name, err)
		}
	}
	sl, err := f.svc.CreateSeal(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ses, err := seal.Parse(sl.SESSeal)
	if err != nil || ses.Verify() != nil || !ses.AllowsSigner(cred.Certificate.Raw) || ses.ID != sl.ID {
		t.Fatalf("SES %v %+v", err, ses)
	}
	// Its validity never outlasts the owner's signing certificate.
	if sl.NotAfter.After(cred.NotAfter) || sl.State != SealActive {
		t.Fatalf("seal %+v, certificate until %s", sl, cred.NotAfter)
	}
	if list, err := f.svc.Seals(ctx, alice); err != nil || len(list) != 1 || list[0].ID != sl.ID {
		t.Fatalf("alice's seals %v %+v", err, list)
	}
	if list, _ := f.svc.Seals(ctx, bob); len(list) != 0 {
		t.Fatal("bob has alice's seal")
	}
	if _, err := f.svc.SealForUse(ctx, bob, sl.ID); !errors.Is(err, ErrSealNotFound) {
		t.Fatalf("another user's seal: %v", err)
	}
	if _, err := f.svc.SealForUse(ctx, alice, sl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeSeal(ctx, sl.ID, "bogus"); !errors.Is(err, ErrInvalidReason) {
		t.Fatalf("bad reason: %v", err)
	}
	rev, err := f.svc.RevokeSeal(ctx, sl.ID, "keyCompromise")
	if err != nil || rev.State != SealRevoked {
		t.Fatalf("revoke: %v %+v", err, rev)
	}
	if _, err := f.svc.RevokeSeal(ctx, sl.ID, ""); !errors.Is(err, ErrSealAlreadyRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := f.svc.SealForUse(ctx, alice, sl.ID); !errors.Is(err, ErrSealNotActive) {
		t.Fatalf("revoked seal used: %v", err)
	}
	if r, _ := f.svc.SealRevoked(ctx, sl.ID); !r {
		t.Fatal("not reported revoked")
	}
	// Expiry by the clock.
	sl2, err := f.svc.CreateSeal(ctx, SealRequest{Owner: alice, Name: "合同章", Kind: seal.KindContract, ImagePNG: req.ImagePNG, WidthMM: 30, HeightMM: 30, ValidityDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(49 * time.Hour)
	if _, err := f.svc.SealForUse(ctx, alice, sl2.ID); !errors.Is(err, ErrSealNotActive) {
		t.Fatalf("expired seal used: %v", err)
	}
}
