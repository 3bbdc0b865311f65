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
	w := &sxWorld{tsWorld: newTSWorld(t), creds: map[string]*phone.Credential{}}
	ctx := context.Background()
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	tokens := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol"} {
		var op protocol.Operator
		w.must(w.do("POST", "/v1/admin/operators", map[string]string{"name": name}, admin), http.StatusCreated).decode(t, &op)
		tokens[name] = op.Token
	}
	as := func(name string) map[string]string {
		if name == "admin" {
			return admin
		}
		return map[string]string{"Authorization": "Bearer " + tokens[name]}
	}
	initReq := map[string]any{"iterations": escIter, "custodians": []map[string]string{
		{"name": "alice", "passphrase": escPass["alice"]}, {"name": "bob", "passphrase": escPass["bob"]}, {"name": "carol", "passphrase": escPass["carol"]}}}
	w.refused(w.do("POST", "/v1/admin/escrow", initReq, as("alice")), http.StatusForbidden, protocol.CodeOperatorForbidden)
	w.refused(w.do("GET", "/v1/admin/escrow", nil, admin), http.StatusConflict, protocol.CodeEscrowNotInitialized)
	bad := map[string]any{"custodians": []map[string]string{{"name": "alice", "passphrase": escPass["alice"]}, {"name": "nobody", "passphrase": escPass["bob"]}}}
	w.refused(w.do("POST", "/v1/admin/escrow", bad, admin), http.StatusBadRequest, protocol.CodeInvalidRequest)
	var created protocol.EscrowCreated
	w.must(w.do("POST", "/v1/admin/escrow", initReq, admin), http.StatusCreated).decode(t, &created)
	if created.Escrow.Threshold != 2 || len(created.Shares) != 3 || !strings.Contains(created.Shares[1].File, "UKEYGATE ESCROW SHARE") {
		t.Fatalf("escrow %+v", created.Escrow)
	}
	files := map[string]string{}
	for _, s := range created.Shares {
		files[s.Custodian] = s.File
	}
	var shown protocol.Escrow
	w.must(w.do("GET", "/v1/admin/escrow", nil, as("bob")), http.StatusOK).decode(t, &shown)
	if shown.ID != created.Escrow.ID || strings.Contains(string(w.do("GET", "/v1/admin/escrow", nil, admin).body), "SHARE") {
		t.Fatal("escrow shown with its shares")
	}
	w.refused(w.do("POST", "/v1/admin/escrow", initReq, admin), http.StatusConflict, protocol.CodeEscrowExists)

	iss := seed.Generated("sm2", "SM2", "Escrow Test SM2 CA")
	iss.Profile.Escrow = true
	sw := seed.Make(t, w.ts.URL, w.ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Apps:    []operator.AppRequest{{Name: "招标平台", Origins: []string{sxOrigin}}},
		Users:   []seed.User{{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}}},
		PIN:     sxPIN,
	})
	w.appKey = sw.Apps[0].APIKey
	user := sw.Users[0]
	oldSign, enc := user.Credentials["sm2/sign"], user.Credentials["sm2/encrypt"]
	if !enc.Escrowed || oldSign.Escrowed {
		t.Fatalf("escrowed: enc %v sign %v", enc.Escrowed, oldSign.Escrowed)
	}
	encCert := certOf(t, enc)
	plain := []byte("sealed bid: 1,234,567.89 CNY")
	envelope, err := gmcrypto.EnvelopeCMS(plain, encCert)
	if err != nil {
		t.Fatal(err)
	}

	// Forgotten PIN: the operator re-verified the user and resets.
	w.refused(w.do("POST", "/v1/admin/users/"+user.ID+"/reset-pin", map[string]string{}, admin), http.StatusBadRequest, protocol.CodeInvalidRequest)
	var reset protocol.PINReset
	w.must(w.do("POST", "/v1/admin/users/"+user.ID+"/reset-pin", map[string]string{"reason": "ID card checked at the counter"}, as("carol")), http.StatusOK).decode(t, &reset)
	if reset.ActivationCode == "" || reset.Reissue != 1 || !slices.Equal(reset.Revoked, []string{oldSign.ID}) ||
		!slices.Equal(reset.AwaitingRecovery, []string{enc.ID}) || len(reset.Lost) != 0 {
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
		case c.ID == enc.ID && !c.AwaitingRecovery:
			t.Fatal("the encryption credential does not show it waits for recovery")
		}
	}
	if newSign == nil || newSign.ID == oldSign.ID {
		t.Fatalf("no re-issued signing credential in %+v", creds)
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
	var recovered protocol.Recovered
	if err := p2.Do(ctx, "POST", "/v1/me/recovery", map[string]string{"pin": escNewPIN}, &recovered); err != nil {
		t.Fatal(err)
	}
	if len(recovered.Credentials) != 1 || recovered.Credentials[0].ID != enc.ID || recovered.Credentials[0].AwaitingRecovery {
		t.Fatalf("recovered %+v", recovered.Credentials)
	}

	// The bid sealed to the old encryption certificate opens.
	c = w.create(map[string]any{"kind": "decrypt", "ciphertext": envelope, "ciphertext_format": "cms"})
	if _, err := w.scan(p2, c.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if err := w.confirm(p2, c.ID, enc.ID, escNewPIN, c.Code); err != nil {
		t.Fatal(err)
	}
	v := w.view(c.ID)
	var res struct {
		Plaintext []byte `json:"plaintext"`
	}
	if err := json.Unmarshal(v.Result, &res); v.State != "completed" || err != nil || !bytes.Equal(res.Plaintext, plain) {
		t.Fatalf("decrypt session %s: %q %v", v.State, res.Plaintext, err)
	}

	// The audit chain verifies; the share entries name both operators.
	var ver protocol.AuditVerification
	w.must(w.do("GET", "/v1/admin/audit/verify", nil, admin), http.StatusOK).decode(t, &ver)
	if !ver.Valid || ver.Entries < 10 {
		t.Fatalf("audit does not verify: %+v", ver)
	}
	var page struct {
		Entries []protocol.AuditEntry `json:"entries"`
	}
	w.must(w.do("GET", "/v1/admin/audit?limit=1000", nil, admin), http.StatusOK).decode(t, &page)
	var shares, refusedShares int
	for _, e := range page.Entries {
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
