package ca

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/storage"
)

// reissueMarks lists the seal re-issue markers in the store.
func reissueMarks(t *testing.T, f *fixture) []string {
	t.Helper()
	kvs, _, err := f.store.List(f.ctx, pfxSealReissues)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	return out
}

// TestSealReissue: renewing a signing credential leaves its owner's seals
// as they were and a marker in the same write (what a crash right after
// the renewal leaves); ReissueSeal then makes version 2 of each active
// seal under the same id, signed by the same issuer, bound to the
// successor's certificate instead of the old one, its validity following
// the certificates unless one was asked, the earlier version's SM3 kept;
// a revoked seal, a second call and an encryption renewal change nothing.
func TestSealReissue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.generated(t, "sm2", gmcrypto.AlgSM2, &Profile{RenewalKey: RenewalKeyEither})
	alice := f.enrolled(t, UserRequest{Name: "alice"})
	sign := f.credential(t, alice, "sm2", gmcrypto.AlgSM2, PurposeSign)
	enc := f.credential(t, alice, "sm2", gmcrypto.AlgSM2, PurposeEncrypt)
	img := testkit.SquarePNG(t)
	official, err := f.svc.CreateSeal(ctx, SealRequest{Owner: alice, Name: "公章", Kind: seal.KindOfficial, ImagePNG: img, WidthMM: 40, HeightMM: 40})
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := f.svc.CreateSeal(ctx, SealRequest{Owner: alice, Name: "合同章", Kind: seal.KindContract, ImagePNG: img, WidthMM: 30, HeightMM: 30, ValidityDays: 200})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := f.svc.CreateSeal(ctx, SealRequest{Owner: alice, Name: "财务章", Kind: seal.KindFinance, ImagePNG: img, WidthMM: 30, HeightMM: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeSeal(ctx, revoked.ID, "cessationOfOperation"); err != nil {
		t.Fatal(err)
	}
	if official.Version != 1 || !official.DefaultValidity || fixed.DefaultValidity || len(official.SignerCredentials) != 1 || official.SignerCredentials[0] != sign.ID {
		t.Fatalf("new seal: version %d default %v/%v signers %v", official.Version, official.DefaultValidity, fixed.DefaultValidity, official.SignerCredentials)
	}

	// An encryption renewal binds no seal.
	if _, err := f.svc.RenewCredential(ctx, alice, enc.ID, testPIN, false); err != nil {
		t.Fatal(err)
	}
	if m := reissueMarks(t, f); len(m) != 0 {
		t.Fatalf("markers after an encryption renewal: %v", m)
	}
	if due, err := f.svc.SealsToReissue(ctx, alice); err != nil || len(due) != 0 {
		t.Fatalf("due after an encryption renewal: %v %v", due, err)
	}

	f.clock.Advance(30 * 24 * time.Hour)
	succ, err := f.svc.RenewCredential(ctx, alice, sign.ID, testPIN, true)
	if err != nil {
		t.Fatal(err)
	}
	// The renewal's write: the marker; the seals are untouched.
	if m := reissueMarks(t, f); len(m) != 1 || m[0] != sealReissueKey(alice, sign.ID) {
		t.Fatalf("markers %v", m)
	}
	if p, err := f.svc.PendingSealReissues(ctx); err != nil || len(p) != 1 || p[0] != (PendingSealReissue{Owner: alice, Credential: sign.ID}) {
		t.Fatalf("pending %+v %v", p, err)
	}
	still, err := f.svc.GetSeal(ctx, official.ID)
	if err != nil || !bytes.Equal(still.SESSeal, official.SESSeal) {
		t.Fatalf("the renewal changed the seal: %v", err)
	}
	if need, err := f.svc.SealNeedsReissue(ctx, still); err != nil || !need {
		t.Fatalf("needs re-issue: %v %v", need, err)
	}
	if ok, err := f.svc.ClearSealReissue(ctx, alice, sign.ID); err != nil || ok {
		t.Fatalf("marker cleared while seals wait: %v %v", ok, err)
	}
	due, err := f.svc.SealsToReissue(ctx, alice)
	if err != nil || len(due) != 2 || !contains(due, official.ID) || !contains(due, fixed.ID) {
		t.Fatalf("due %v %v (want %s and %s)", due, err, official.ID, fixed.ID)
	}

	for _, old := range []*Seal{official, fixed} {
		re, err := f.svc.ReissueSeal(ctx, old.ID)
		if err != nil {
			t.Fatal(err)
		}
		sl := re.Seal
		if len(re.Replaced) != 1 || re.Replaced[0] != sign.ID || len(re.By) != 1 || re.By[0] != succ.ID {
			t.Fatalf("%s: replaced %v by %v", old.ID, re.Replaced, re.By)
		}
		ses, err := seal.Parse(sl.SESSeal)
		if err != nil || ses.Verify() != nil {
			t.Fatalf("%s: SES %v", old.ID, err)
		}
		if sl.ID != old.ID || ses.ID != old.ID || sl.Version != 2 || sl.IssuerID != old.IssuerID || sl.State != SealActive || sl.ReissuedAt.IsZero() {
			t.Fatalf("re-issued %+v", sl)
		}
		if !ses.AllowsSigner(succ.Certificate.Raw) || ses.AllowsSigner(sign.Certificate.Raw) || len(ses.SignerCerts) != 1 {
			t.Fatalf("%s: signers: new %v old %v (%d)", old.ID, ses.AllowsSigner(succ.Certificate.Raw), ses.AllowsSigner(sign.Certificate.Raw), len(ses.SignerCerts))
		}
		if len(sl.SignerCredentials) != 1 || sl.SignerCredentials[0] != succ.ID {
			t.Fatalf("signer credentials %v", sl.SignerCredentials)
		}
		oldSES, _ := seal.Parse(old.SESSeal)
		if !bytes.Equal(ses.PNG, oldSES.PNG) || ses.Name != oldSES.Name || ses.Kind != oldSES.Kind || !bytes.Equal(ses.Issuer.Raw, oldSES.Issuer.Raw) || !ses.NotBefore.Equal(oldSES.NotBefore) {
			t.Fatalf("%s: the re-issue changed more than the signers", old.ID)
		}
		fp := sm3.Sum(old.SESSeal)
		if len(sl.Previous) != 1 || sl.Previous[0].Version != 1 || sl.Previous[0].SESSM3 != hex.EncodeToString(fp[:]) ||
			!sl.Previous[0].NotAfter.Equal(old.NotAfter) || len(sl.Previous[0].SignerCredentials) != 1 || sl.Previous[0].SignerCredentials[0] != sign.ID {
			t.Fatalf("%s: previous %+v", old.ID, sl.Previous)
		}
		// The validity: the asked one stays; the default one follows the
		// successor's certificate (at most 3 years after the seal was made).
		want := old.NotAfter
		if old.DefaultValidity {
			want = succ.NotAfter.UTC().Truncate(time.Second)
			if limit := old.CreatedAt.AddDate(0, 0, defaultSealValidityDays); limit.Before(want) {
				want = limit
			}
			if !want.After(old.NotAfter) {
				t.Fatalf("the test's renewal does not extend the certificates: %s, seal until %s", succ.NotAfter, old.NotAfter)
			}
		}
		if !sl.NotAfter.Equal(want) || !ses.NotAfter.Equal(want) {
			t.Fatalf("%s: not after %s (SES %s), want %s", old.ID, sl.NotAfter, ses.NotAfter, want)
		}
		if _, err := f.svc.SealForUse(ctx, alice, old.ID); err != nil {
			t.Fatal(err)
		}
		// Done: a second call changes nothing.
		before := f.snapshot(t)
		_, err = f.svc.ReissueSeal(ctx, old.ID)
		wantErr(t, "second re-issue", err, ErrSealCurrent)
		if f.snapshot(t) != before {
			t.Fatal("a second re-issue changed the store")
		}
	}
	_, err = f.svc.ReissueSeal(ctx, revoked.ID)
	wantErr(t, "revoked seal", err, ErrSealCurrent)
	_, err = f.svc.ReissueSeal(ctx, "sel_aaaaaaaaaaaaaaaa")
	wantErr(t, "unknown seal", err, ErrSealNotFound)
	if r, _ := f.svc.GetSeal(ctx, revoked.ID); r.Version != 1 || !bytes.Equal(r.SESSeal, revoked.SESSeal) {
		t.Fatal("the revoked seal was re-issued")
	}
	if ok, err := f.svc.ClearSealReissue(ctx, alice, sign.ID); err != nil || !ok {
		t.Fatalf("clear: %v %v", ok, err)
	}
	if m := reissueMarks(t, f); len(m) != 0 {
		t.Fatalf("markers left %v", m)
	}

	// A renewal of the successor (two renewals between uses): version 3,
	// bound to the newest certificate, the two earlier versions kept.
	third, err := f.svc.RenewCredential(ctx, alice, succ.ID, testPIN, false)
	if err != nil {
		t.Fatal(err)
	}
	re, err := f.svc.ReissueSeal(ctx, official.ID)
	if err != nil {
		t.Fatal(err)
	}
	ses, _ := seal.Parse(re.Seal.SESSeal)
	if re.Seal.Version != 3 || !ses.AllowsSigner(third.Certificate.Raw) || len(re.Seal.Previous) != 2 || re.Seal.Previous[0].Version != 2 || re.Seal.Previous[1].Version != 1 {
		t.Fatalf("third version %d previous %+v", re.Seal.Version, re.Seal.Previous)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestSealReissueExternal: at an external issuer the renewal's successor
// waits for its certificate: nothing is due and no marker is written
// until the import, whose write adds the marker; the seal (made by an
// internal issuer) is then re-issued for the imported certificate.
func TestSealReissueExternal(t *testing.T) {
	testkit.OpenSSL(t)
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	opensslCA(t, dir, "extca", gmcrypto.AlgSM2)
	if _, err := f.svc.AddIssuer(ctx, IssuerRequest{ID: "ext", Name: "External", Mode: ModeExternal,
		ChainPEM: readFile(t, dir, "extca.pem"), Profile: &Profile{RenewalKey: RenewalKeyEither}}); err != nil {
		t.Fatal(err)
	}
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "Wang Wu", Organization: "Bidder Ltd"})
	old := f.credential(t, uid, "ext", gmcrypto.AlgSM2, PurposeSign)
	writeFile(t, dir, "old.csr", []byte(old.CSRPEM))
	opensslSignCSR(t, dir, gmcrypto.AlgSM2, "extca", "old.csr", "old.pem")
	old, err := f.svc.ImportCertificate(ctx, old.ID, readFile(t, dir, "old.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sl, err := f.svc.CreateSeal(ctx, SealRequest{Owner: uid, Name: "公章", Kind: seal.KindOfficial, ImagePNG: testkit.SquarePNG(t), WidthMM: 40, HeightMM: 40, Issuer: "sm2"})
	if err != nil {
		t.Fatal(err)
	}
	succ, err := f.svc.RenewCredential(ctx, uid, old.ID, testPIN, true)
	if err != nil {
		t.Fatal(err)
	}
	if m := reissueMarks(t, f); len(m) != 0 {
		t.Fatalf("markers while the successor waits: %v", m)
	}
	if due, err := f.svc.SealsToReissue(ctx, uid); err != nil || len(due) != 0 {
		t.Fatalf("due while the successor waits: %v %v", due, err)
	}
	_, err = f.svc.ReissueSeal(ctx, sl.ID)
	wantErr(t, "re-issue while the successor waits", err, ErrSealCurrent)

	writeFile(t, dir, "succ.csr", []byte(succ.CSRPEM))
	opensslSignCSR(t, dir, gmcrypto.AlgSM2, "extca", "succ.csr", "succ.pem")
	got, err := f.svc.ImportCertificate(ctx, succ.ID, readFile(t, dir, "succ.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if m := reissueMarks(t, f); len(m) != 1 || m[0] != sealReissueKey(uid, old.ID) {
		t.Fatalf("markers after the import: %v", m)
	}
	re, err := f.svc.ReissueSeal(ctx, sl.ID)
	if err != nil {
		t.Fatal(err)
	}
	ses, err := seal.Parse(re.Seal.SESSeal)
	if err != nil || ses.Verify() != nil || !ses.AllowsSigner(got.Certificate.Raw) || ses.AllowsSigner(old.Certificate.Raw) || re.Seal.IssuerID != "sm2" {
		t.Fatalf("re-issued: %v", err)
	}
}

// TestSealCapCountsActive: only active seals count against
// MaxSealsPerUser; at the cap a new seal is ErrSealLimit (no field, no
// write), unless it replaces an active one, which it revokes as
// superseded in the same write.
func TestSealCapCountsActive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	alice := f.enrolled(t, UserRequest{Name: "alice"})
	f.credential(t, alice, "sm2", gmcrypto.AlgSM2, PurposeSign)
	img := testkit.SquarePNG(t)
	mk := func(i int, replaces ...string) (*Seal, error) {
		return f.svc.CreateSeal(ctx, SealRequest{Owner: alice, Name: fmt.Sprintf("签名 %d", i), Kind: seal.KindPersonal,
			ImagePNG: img, WidthMM: 20, HeightMM: 20, Replaces: replaces})
	}
	// Many more seals made and revoked than the cap: they do not count.
	for i := range MaxSealsPerUser + 8 {
		sl, err := mk(i)
		if err != nil {
			t.Fatalf("seal %d with one active: %v", i, err)
		}
		if _, err := f.svc.RevokeSeal(ctx, sl.ID, "superseded"); err != nil {
			t.Fatal(err)
		}
	}
	var active []*Seal
	for i := range MaxSealsPerUser {
		sl, err := mk(100 + i)
		if err != nil {
			t.Fatalf("active seal %d: %v", i, err)
		}
		active = append(active, sl)
	}
	before := f.snapshot(t)
	_, err := mk(200)
	wantErr(t, "one more than the cap", err, ErrSealLimit)
	var re *RequestError
	if errors.As(err, &re) {
		t.Fatalf("the cap names a field: %v", err)
	}
	if f.snapshot(t) != before {
		t.Fatal("a refused seal changed the store")
	}
	// Replacing one makes room, in one write.
	sl, err := mk(201, active[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sl.Superseded) != 1 || sl.Superseded[0] != active[3].ID {
		t.Fatalf("superseded %v", sl.Superseded)
	}
	if got, _ := f.svc.GetSeal(ctx, active[3].ID); got.State != SealRevoked || got.RevocationReason != "superseded" {
		t.Fatalf("replaced seal %+v", got)
	}
	// Replacing a seal no longer active makes no room.
	_, err = mk(202, active[3].ID)
	wantErr(t, "replacing a revoked seal at the cap", err, ErrSealLimit)
	// An expired seal does not count either.
	if _, err := f.svc.RevokeSeal(ctx, active[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	short, err := f.svc.CreateSeal(ctx, SealRequest{Owner: alice, Name: "短期", Kind: seal.KindPersonal, ImagePNG: img, WidthMM: 20, HeightMM: 20, ValidityDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = mk(203)
	wantErr(t, "at the cap again", err, ErrSealLimit)
	f.clock.Advance(49 * time.Hour)
	if _, err := mk(204); err != nil {
		t.Fatalf("after seal %s expired: %v", short.ID, err)
	}
	// Every record is kept, revoked or expired: verification looks seals
	// up by id.
	kvs, _, err := f.store.List(ctx, pfxSeals)
	if err != nil {
		t.Fatal(err)
	}
	if want := MaxSealsPerUser + 8 + MaxSealsPerUser + 3; len(kvs) != want {
		t.Fatalf("%d seal records, want %d", len(kvs), want)
	}
}

// TestSealReissueAfterCertificateEnd: a renewal's re-issue that keeps
// failing (here: never called, the marker left as a crash leaves it)
// until the superseded certificate ends leaves a seal that followed the
// certificate expired. It is still due and is re-issued under the
// successor, active again until the successor's end, when its expiry
// came only from that certificate and the renewal's marker is there; a
// seal with validity_days (even one ending with the certificate), a
// revoked one, and one whose marker is gone stay as they are, the store
// unchanged.
func TestSealReissueAfterCertificateEnd(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.generated(t, "short", gmcrypto.AlgSM2, &Profile{ValidityDays: 10})
	img := testkit.SquarePNG(t)
	cases := []struct {
		name         string
		validityDays int
		revoke       bool
		dropMarker   bool
		revived      bool
	}{
		{"follows the certificate", 0, false, false, true},
		{"validity_days ending with the certificate", 10, false, false, false},
		{"revoked", 0, true, false, false},
		{"no marker", 0, false, true, false},
	}
	type made struct {
		owner string
		cred  *Credential
		seal  *Seal
		succ  *Credential
	}
	var m []made
	for _, tc := range cases {
		owner := f.enrolled(t, UserRequest{Name: tc.name})
		cred := f.credential(t, owner, "short", gmcrypto.AlgSM2, PurposeSign)
		sl, err := f.svc.CreateSeal(ctx, SealRequest{Owner: owner, Name: "公章", Kind: seal.KindOfficial, ImagePNG: img,
			WidthMM: 40, HeightMM: 40, ValidityDays: tc.validityDays})
		if err != nil {
			t.Fatal(err)
		}
		if tc.revoke {
			if _, err := f.svc.RevokeSeal(ctx, sl.ID, "cessationOfOperation"); err != nil {
				t.Fatal(err)
			}
		}
		m = append(m, made{owner: owner, cred: cred, seal: sl})
	}
	f.clock.Advance(2 * 24 * time.Hour)
	for i, tc := range cases {
		succ, err := f.svc.RenewCredential(ctx, m[i].owner, m[i].cred.ID, testPIN, false)
		if err != nil {
			t.Fatal(err)
		}
		m[i].succ = succ
		if tc.dropMarker {
			if _, err := f.store.Txn(ctx, storage.Delete(sealReissueKey(m[i].owner, m[i].cred.ID))); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Past the old certificates' end, within their successors'.
	f.clock.Advance(9 * 24 * time.Hour)
	if now := f.svc.Now(); !now.After(m[0].cred.NotAfter) || !now.Before(m[0].succ.NotAfter) {
		t.Fatalf("now %s: old certificate until %s, successor until %s", now, m[0].cred.NotAfter, m[0].succ.NotAfter)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			owner, old := m[i].owner, m[i].seal
			cur, err := f.svc.GetSeal(ctx, old.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]State{false: SealExpired, true: SealRevoked}[tc.revoke]; cur.State != want {
				t.Fatalf("before: %s, want %s", cur.State, want)
			}
			due, err := f.svc.SealsToReissue(ctx, owner)
			if err != nil || contains(due, old.ID) != tc.revived {
				t.Fatalf("due %v %v", due, err)
			}
			if need, err := f.svc.SealNeedsReissue(ctx, cur); err != nil || need != tc.revived {
				t.Fatalf("needs re-issue: %v %v", need, err)
			}
			// A scan's check of the owner's seals (read once, asked
			// twice), and one of another owner's, answer the same.
			check := f.svc.SealReissueCheck(owner)
			for _, c := range []*SealReissueCheck{check, check, f.svc.SealReissueCheck(m[(i+1)%len(m)].owner)} {
				if need, err := c.Needs(ctx, cur); err != nil || need != tc.revived {
					t.Fatalf("needs re-issue (check of %s): %v %v", c.owner, need, err)
				}
			}
			if ok, err := f.svc.ClearSealReissue(ctx, owner, m[i].cred.ID); err != nil || ok == tc.revived {
				t.Fatalf("marker cleared: %v %v", ok, err)
			}
			before := f.snapshot(t)
			re, err := f.svc.ReissueSeal(ctx, old.ID)
			if !tc.revived {
				wantErr(t, "re-issue", err, ErrSealCurrent)
				if f.snapshot(t) != before {
					t.Fatal("a refused re-issue changed the store")
				}
				if _, err := f.svc.SealForUse(ctx, owner, old.ID); !errors.Is(err, ErrSealNotActive) {
					t.Fatalf("use: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sl := re.Seal
			ses, err := seal.Parse(sl.SESSeal)
			if err != nil || ses.Verify() != nil || !ses.AllowsSigner(m[i].succ.Certificate.Raw) || ses.AllowsSigner(m[i].cred.Certificate.Raw) {
				t.Fatalf("SES_Seal: %v", err)
			}
			want := m[i].succ.NotAfter.UTC().Truncate(time.Second)
			if sl.State != SealActive || sl.Version != 2 || !sl.NotAfter.Equal(want) || !ses.NotAfter.Equal(want) || !sl.DefaultValidity {
				t.Fatalf("re-issued: %s version %d until %s (SES %s), want %s", sl.State, sl.Version, sl.NotAfter, ses.NotAfter, want)
			}
			if !re.Expired.Equal(old.NotAfter) || len(re.By) != 1 || re.By[0] != m[i].succ.ID {
				t.Fatalf("expired %s (want %s), by %v", re.Expired, old.NotAfter, re.By)
			}
			if _, err := f.svc.SealForUse(ctx, owner, old.ID); err != nil {
				t.Fatal(err)
			}
			if ok, err := f.svc.ClearSealReissue(ctx, owner, m[i].cred.ID); err != nil || !ok {
				t.Fatalf("clear after: %v %v", ok, err)
			}
		})
	}
}
