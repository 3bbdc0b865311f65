package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

const (
	escNewPIN = "975318"
	escIter   = 4096
)

var escPass = map[string]string{"alice": "alice passphrase 1", "bob": "bob's passphrase 22", "carol": "carol passphrase 333"}

// TestEscrowForgottenPINEndToEnd runs the whole story over HTTP on a real
// server: the admin's escrow ceremony, an escrowed SM2 encryption key, a
// forgotten PIN (reset, old signing certificate on the CRL, a new phone
// and PIN, the signing credential re-issued and working), a dual-control
// recovery (one custodian is not enough; the requester, the admin, a
// wrong share and the same custodian twice are refused without changing
// anything), the new PIN taking the recovered key, a CMS EnvelopedData
// made for the old encryption certificate opened in a decrypt session,
// and the audit chain verifying with both operators named.
func TestEscrowForgottenPINEndToEnd(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice", "bob", "carol")
	ctx := context.Background()
	admin, as := w.admin, w.as
	initReq := escCeremony(escPass, "alice", "bob", "carol")
	w.refused(w.do("POST", "/v1/admin/escrow", initReq, as("alice")), http.StatusForbidden, protocol.CodeOperatorForbidden)
	w.refused(w.do("GET", "/v1/admin/escrow", nil, admin), http.StatusConflict, protocol.CodeEscrowNotInitialized)
	bad := map[string]any{"custodians": []map[string]string{{"name": "alice", "passphrase": escPass["alice"]}, {"name": "nobody", "passphrase": escPass["bob"]}}}
	w.refused(w.do("POST", "/v1/admin/escrow", bad, admin), http.StatusBadRequest, protocol.CodeInvalidRequest)
	var created protocol.EscrowCreated
	w.must(w.do("POST", "/v1/admin/escrow", initReq, admin), http.StatusCreated).decode(t, &created)
	if created.Escrow.Threshold != 2 || len(created.Shares) != 3 || !strings.Contains(created.Shares[1].File, "UKEYGATE ESCROW SHARE") {
		t.Fatalf("escrow %+v", created.Escrow)
	}
	files := shareFiles(created.Shares)
	var shown protocol.Escrow
	w.must(w.do("GET", "/v1/admin/escrow", nil, as("bob")), http.StatusOK).decode(t, &shown)
	if shown.ID != created.Escrow.ID || strings.Contains(string(w.do("GET", "/v1/admin/escrow", nil, admin).body), "SHARE") {
		t.Fatal("escrow shown with its shares")
	}
	w.refused(w.do("POST", "/v1/admin/escrow", initReq, admin), http.StatusConflict, protocol.CodeEscrowExists)

	u := w.seedEscrowed()
	user, oldSign, enc := u.user, u.oldSign, u.enc

	// Forgotten PIN: the operator re-verified the user and resets.
	w.refused(w.do("POST", "/v1/admin/users/"+user.ID+"/reset-pin", map[string]string{}, admin), http.StatusBadRequest, protocol.CodeInvalidRequest)
	reset, p2, newSign := w.resetPIN(u, "carol")
	if reset.Reissue != 1 || !slices.Equal(reset.Revoked, []string{oldSign.ID}) || len(reset.Lost) != 0 {
		t.Fatalf("reset %+v", reset)
	}
	if _, err := user.Phone.Credentials(ctx); err == nil {
		t.Fatal("the old phone still works after the reset")
	}
	var crlRaw []byte = w.must(w.do("GET", "/v1/issuers/sm2/crl", nil, nil), http.StatusOK).body
	crl, err := smx509.ParseRevocationList(crlRaw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(crl.RevokedCertificateEntries, func(e smx509.RevocationListEntry) bool {
		return e.SerialNumber.Cmp(certOf(t, oldSign).SerialNumber) == 0
	}) {
		t.Fatal("the old signing certificate is not on the CRL")
	}
	if newSign.ID == oldSign.ID {
		t.Fatalf("the signing credential %s was not re-issued", newSign.ID)
	}
	w.creds["new/sign"], w.creds["enc"] = newSign, enc
	c := w.create(map[string]any{"kind": "login", "alg": "SM2"})
	if _, err := w.scan(p2, c.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if err := w.confirm(p2, c.ID, newSign.ID, escNewPIN, c.Code); err != nil {
		t.Fatalf("login with the re-issued credential: %v", err)
	}

	// Dual-control recovery.
	var rec protocol.Recovery
	w.must(w.do("POST", "/v1/admin/escrow/recoveries", map[string]string{"user": user.ID, "reason": "forgotten PIN, ticket 42"}, as("alice")), http.StatusCreated).decode(t, &rec)
	if rec.State != "open" || rec.RequestedBy != "alice" || !slices.Equal(rec.Credentials, []string{enc.ID}) {
		t.Fatalf("recovery %+v", rec)
	}
	sharePath := "/v1/admin/escrow/recoveries/" + rec.ID + "/shares"
	share := func(custodian, file, pass string) *resp {
		return w.do("POST", sharePath, map[string]string{"share": files[file], "passphrase": pass}, as(custodian))
	}
	st := w.ts.Server.Store()
	snap := storeSnapshot(t, st)
	w.refused(share("alice", "alice", escPass["alice"]), http.StatusForbidden, protocol.CodeCustodianForbidden)
	w.refused(share("admin", "bob", escPass["bob"]), http.StatusForbidden, protocol.CodeCustodianForbidden)
	w.refused(share("bob", "bob", "not bob's passphrase"), http.StatusBadRequest, protocol.CodeShareInvalid)
	w.refused(share("bob", "carol", escPass["carol"]), http.StatusBadRequest, protocol.CodeShareInvalid)
	w.refused(w.do("POST", sharePath, map[string]string{"share": "garbage", "passphrase": "x"}, as("bob")), http.StatusBadRequest, protocol.CodeShareInvalid)
	if got := storeSnapshot(t, st); !maps.Equal(snap, got) {
		t.Fatal("a refused share changed the store")
	}
	var after protocol.Recovery
	w.must(share("bob", "bob", escPass["bob"]), http.StatusOK).decode(t, &after)
	if after.State != "open" || len(after.Approvals) != 1 {
		t.Fatalf("after one custodian: %+v", after)
	}
	if err := p2.Do(ctx, "POST", "/v1/me/recovery", map[string]string{"pin": escNewPIN}, nil); err == nil {
		t.Fatal("one custodian recovered a key")
	} else {
		mustRefuse(t, err, protocol.CodeNothingToRecover)
	}
	w.refused(share("bob", "bob", escPass["bob"]), http.StatusConflict, protocol.CodeShareDuplicate)
	w.must(share("carol", "carol", escPass["carol"]), http.StatusOK).decode(t, &after)
	if after.State != "recovered" || len(after.Approvals) != 2 {
		t.Fatalf("after two custodians: %+v", after)
	}
	// The new PIN takes the key; the bid sealed to the old encryption
	// certificate opens.
	w.recoveredOpens(u, p2)

	// The audit chain verifies; the share entries name both operators.
	var shares, refusedShares int
	for _, e := range w.escAudit() {
		switch {
		case e.Action == "escrow.recovery.share" && e.Outcome == "ok":
			shares++
			if !strings.Contains(e.Detail, "requested_by=alice") || (e.Actor != "operator:bob" && e.Actor != "operator:carol") {
				t.Errorf("share entry %+v", e)
			}
		case e.Action == "escrow.recovery.share":
			refusedShares++
		case e.Action == "user.reset_pin" && e.Actor != "operator:carol":
			t.Errorf("reset entry %+v", e)
		}
	}
	if shares != 2 || refusedShares < 5 {
		t.Fatalf("%d share entries, %d refused", shares, refusedShares)
	}
}

// escWorld is a server with named operators (their tokens), the base of
// the escrow tests.
type escWorld struct {
	*sxWorld
	admin  map[string]string
	tokens map[string]string
}

// newEscWorld starts a server and adds the named operators.
func newEscWorld(t *testing.T, operators ...string) *escWorld {
	t.Helper()
	w := &escWorld{sxWorld: &sxWorld{tsWorld: newTSWorld(t), creds: map[string]*phone.Credential{}}, tokens: map[string]string{}}
	w.admin = map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	for _, name := range operators {
		var op protocol.Operator
		w.must(w.do("POST", "/v1/admin/operators", map[string]string{"name": name}, w.admin), http.StatusCreated).decode(t, &op)
		w.tokens[name] = op.Token
	}
	return w
}

// as is the Authorization header of an operator ("admin": the admin token).
func (w *escWorld) as(name string) map[string]string {
	if name == "admin" {
		return w.admin
	}
	return map[string]string{"Authorization": "Bearer " + w.tokens[name]}
}

// escCeremony is the body of an escrow ceremony (init or rotation): the
// custodians in order, each with their passphrase in pass.
func escCeremony(pass map[string]string, custodians ...string) map[string]any {
	list := []map[string]string{}
	for _, c := range custodians {
		list = append(list, map[string]string{"name": c, "passphrase": pass[c]})
	}
	return map[string]any{"iterations": escIter, "custodians": list}
}

// shareFiles maps each custodian to their share file.
func shareFiles(shares []protocol.EscrowShare) map[string]string {
	files := map[string]string{}
	for _, s := range shares {
		files[s.Custodian] = s.File
	}
	return files
}

// escUser is a user with an escrowed SM2 encryption credential and a CMS
// envelope made for it.
type escUser struct {
	user            *seed.EnrolledUser
	oldSign, enc    *phone.Credential
	plain, envelope []byte
}

// seedEscrowed makes an issuer with escrow, the app, and a user with a
// signing and an escrowed encryption credential (escrow init first).
func (w *escWorld) seedEscrowed() *escUser {
	t := w.t
	t.Helper()
	iss := seed.Generated("sm2", "SM2", "Escrow Test SM2 CA")
	iss.Profile.Escrow = true
	sw := seed.Make(t, w.ts.URL, w.ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Apps:    []operator.AppRequest{{Name: "招标平台", Origins: []string{sxOrigin}}},
		Users:   []seed.User{{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}}},
		PIN:     sxPIN,
	})
	w.appKey = sw.Apps[0].APIKey
	u := &escUser{user: sw.Users[0], plain: []byte("sealed bid: 1,234,567.89 CNY")}
	u.oldSign, u.enc = u.user.Credentials["sm2/sign"], u.user.Credentials["sm2/encrypt"]
	if !u.enc.Escrowed || u.oldSign.Escrowed {
		t.Fatalf("escrowed: enc %v sign %v", u.enc.Escrowed, u.oldSign.Escrowed)
	}
	var err error
	if u.envelope, err = gmcrypto.EnvelopeCMS(u.plain, certOf(t, u.enc)); err != nil {
		t.Fatal(err)
	}
	return u
}

// resetPIN resets u's PIN as operator by and enrolls a new phone with
// escNewPIN: the reset, the phone and its re-issued signing credential.
// The encryption credential waits for recovery.
func (w *escWorld) resetPIN(u *escUser, by string) (protocol.PINReset, *phone.Client, *phone.Credential) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	var reset protocol.PINReset
	w.must(w.do("POST", "/v1/admin/users/"+u.user.ID+"/reset-pin", map[string]string{"reason": "ID card checked at the counter"}, w.as(by)), http.StatusOK).decode(t, &reset)
	if reset.ActivationCode == "" || !slices.Equal(reset.AwaitingRecovery, []string{u.enc.ID}) {
		t.Fatalf("reset %+v", reset)
	}
	p2 := w.newPhone()
	if _, err := p2.Enroll(ctx, reset.ActivationCode, "new phone", escNewPIN); err != nil {
		t.Fatal(err)
	}
	creds, err := p2.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var newSign *phone.Credential
	for i, c := range creds {
		switch {
		case c.Purpose == "sign" && c.State == "active":
			newSign = &creds[i]
		case c.ID == u.enc.ID && !c.AwaitingRecovery:
			t.Fatal("the encryption credential does not show it waits for recovery")
		}
	}
	if newSign == nil {
		t.Fatalf("no re-issued signing credential in %+v", creds)
	}
	return reset, p2, newSign
}

// recoveredOpens takes the recovered key under p2's new PIN and opens
// u's envelope in a decrypt session.
func (w *escWorld) recoveredOpens(u *escUser, p2 *phone.Client) {
	t := w.t
	t.Helper()
	var recovered protocol.Recovered
	if err := p2.Do(context.Background(), "POST", "/v1/me/recovery", map[string]string{"pin": escNewPIN}, &recovered); err != nil {
		t.Fatal(err)
	}
	if len(recovered.Credentials) != 1 || recovered.Credentials[0].ID != u.enc.ID || recovered.Credentials[0].AwaitingRecovery {
		t.Fatalf("recovered %+v", recovered.Credentials)
	}
	c := w.create(map[string]any{"kind": "decrypt", "ciphertext": u.envelope, "ciphertext_format": "cms"})
	if _, err := w.scan(p2, c.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if err := w.confirm(p2, c.ID, u.enc.ID, escNewPIN, c.Code); err != nil {
		t.Fatal(err)
	}
	v := w.view(c.ID)
	var res struct {
		Plaintext []byte `json:"plaintext"`
	}
	if err := json.Unmarshal(v.Result, &res); v.State != "completed" || err != nil || !bytes.Equal(res.Plaintext, u.plain) {
		t.Fatalf("decrypt session %s: %q %v", v.State, res.Plaintext, err)
	}
}

// escAudit is the audit log, after checking that it verifies.
func (w *escWorld) escAudit() []protocol.AuditEntry {
	t := w.t
	t.Helper()
	var ver protocol.AuditVerification
	w.must(w.do("GET", "/v1/admin/audit/verify", nil, w.admin), http.StatusOK).decode(t, &ver)
	if !ver.Valid || ver.Entries < 10 {
		t.Fatalf("audit does not verify: %+v", ver)
	}
	var page struct {
		Entries []protocol.AuditEntry `json:"entries"`
	}
	w.must(w.do("GET", "/v1/admin/audit?limit=1000", nil, w.admin), http.StatusOK).decode(t, &page)
	return page.Entries
}

// storeSnapshot is every key of the store with its revision, except
// device nonces and the audit log (refused shares are audited).
func storeSnapshot(t *testing.T, st storage.Store) map[string]int64 {
	t.Helper()
	kvs, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]int64, len(kvs))
	for _, kv := range kvs {
		if strings.HasPrefix(kv.Key, "nonces/") || strings.HasPrefix(kv.Key, "audit/") {
			continue
		}
		m[kv.Key] = kv.Revision
	}
	return m
}
