package api_test

import (
	"context"
	"crypto/ecdsa"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/ukeygate/ukeygate/auth"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
)

// The lifecycle tests run a whole server (tsWorld: servertest's bbolt
// file, audit log, sessions, loopback HTTP). Their helpers are prefixed
// lc.

const (
	lcPIN    = "246813"
	lcOrigin = "https://bid.example.cn"
)

type lcWorld struct {
	tsWorld
}

func lcNew(t *testing.T) *lcWorld {
	t.Helper()
	return &lcWorld{tsWorld: newTSWorld(t)}
}

func (w *lcWorld) admin(method, path string, body any) *resp {
	w.t.Helper()
	return w.do(method, path, body, map[string]string{"Authorization": "Bearer " + w.ts.AdminToken})
}

// snapshot is every key of the store with its revision, except consumed
// device nonces.
func (w *lcWorld) snapshot() map[string]int64 {
	w.t.Helper()
	kvs, _, err := w.ts.Server.Store().List(context.Background(), "")
	if err != nil {
		w.t.Fatal(err)
	}
	m := map[string]int64{}
	for _, kv := range kvs {
		if !strings.HasPrefix(kv.Key, "nonces/") {
			m[kv.Key] = kv.Revision
		}
	}
	return m
}

func (w *lcWorld) unchanged(before map[string]int64, what string) {
	w.t.Helper()
	after := w.snapshot()
	if len(after) != len(before) {
		w.t.Fatalf("%s: the store went from %d to %d keys", what, len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			w.t.Fatalf("%s: %s changed", what, k)
		}
	}
}

// lcAudit is an audit entry as GET /v1/admin/audit shows it.
type lcAudit struct {
	Seq        int64  `json:"seq"`
	Action     string `json:"action"`
	Actor      string `json:"actor"`
	User       string `json:"user"`
	Credential string `json:"credential"`
	App        string `json:"app"`
	Session    string `json:"session"`
	Issuer     string `json:"issuer"`
	Outcome    string `json:"outcome"`
	Detail     string `json:"detail"`
}

// audit returns the whole audit log and its raw JSON, and checks that the
// chain verifies.
func (w *lcWorld) audit() ([]lcAudit, string) {
	w.t.Helper()
	r := w.must(w.admin("GET", "/v1/admin/audit", nil), http.StatusOK)
	var out struct {
		Entries []lcAudit `json:"entries"`
	}
	r.decode(w.t, &out)
	var v struct {
		Valid   bool  `json:"valid"`
		Entries int64 `json:"entries"`
	}
	w.must(w.admin("GET", "/v1/admin/audit/verify", nil), http.StatusOK).decode(w.t, &v)
	if !v.Valid || v.Entries != int64(len(out.Entries)) {
		w.t.Fatalf("audit verify %+v, listed %d entries", v, len(out.Entries))
	}
	return out.Entries, string(r.body)
}

// find returns the entries of an action.
func lcFind(entries []lcAudit, action string) []lcAudit {
	var out []lcAudit
	for _, e := range entries {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// setup registers an internal SM2 issuer "sm2" and an app, and creates a
// user (not enrolled: the tests enroll their phones themselves); it
// returns the app (id, key) and the user (id, code).
func (w *lcWorld) setup() (appID, appKey, userID, code string) {
	w.t.Helper()
	sw := seed.Make(w.t, w.ts.URL, w.ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "lc SM2 Root")},
		Apps:    []operator.AppRequest{{Name: "招标平台", Origins: []string{lcOrigin}}},
	})
	u, err := sw.Op.AddUser(context.Background(), operator.UserRequest{Name: "李四"})
	if err != nil {
		w.t.Fatal(err)
	}
	return sw.Apps[0].ID, sw.Apps[0].APIKey, u.ID, u.ActivationCode
}

// lcSession is what the portal gets when it creates a session.
type lcSession struct {
	ID   string `json:"id"`
	Code string `json:"code"`
	QR   struct {
		Payload string `json:"payload"`
	} `json:"qr"`
}

func (w *lcWorld) createLogin(appKey string) *lcSession {
	w.t.Helper()
	var s lcSession
	w.must(w.do("POST", "/v1/sessions", map[string]any{
		"kind": "login", "origin": lcOrigin, "display": map[string]string{"title": "登录", "summary": "log in"},
	}, map[string]string{"Authorization": "Bearer " + appKey}), http.StatusCreated).decode(w.t, &s)
	return &s
}

// TestLostPhone: device A enrolls and gets a credential; the phone is
// lost; the operator gives a new code; device B enrolls with the CURRENT
// PIN (a wrong one is refused and counted) and signs with the old
// credential; A is revoked and its signed requests are refused, also on a
// session it had scanned.
func TestLostPhone(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	ctx := context.Background()
	_, appKey, userID, code := w.setup()
	a := w.newPhone()
	if _, err := a.Enroll(ctx, code, "phone A", lcPIN); err != nil {
		t.Fatal(err)
	}
	cred, err := a.RequestCredential(ctx, "sm2", "SM2", "sign", lcPIN)
	if err != nil {
		t.Fatal(err)
	}

	// The phone is lost: a fresh code for the same user.
	var act struct {
		ID                  string    `json:"id"`
		Enrolled            bool      `json:"enrolled"`
		ActivationCode      string    `json:"activation_code"`
		ActivationExpiresAt time.Time `json:"activation_expires_at"`
	}
	w.must(w.admin("POST", "/v1/admin/users/"+userID+"/activation", nil), http.StatusCreated).decode(t, &act)
	if act.ID != userID || !act.Enrolled || act.ActivationCode == "" || act.ActivationCode == code ||
		!act.ActivationExpiresAt.After(time.Now()) {
		t.Fatalf("new activation %+v", act)
	}
	// The first code stays used.
	if _, err := w.newPhone().Enroll(ctx, code, "phone X", lcPIN); phone.Code(err) != "activation_used" {
		t.Fatalf("first code again: %v", err)
	}

	// A wrong PIN on the new phone: refused, counted, the code stays.
	otherKey, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, err := gmcrypto.MarshalPublicKeyPEM(otherKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	before := w.snapshot()
	r := w.refused(w.do("POST", "/v1/enroll", map[string]string{
		"activation_code": act.ActivationCode, "device_public_key": string(otherPub),
		"device_name": "phone B", "pin": "975318",
	}, nil), http.StatusForbidden, "wrong_pin")
	if r.detail["remaining_tries"] != float64(4) {
		t.Fatalf("wrong PIN on re-enrollment: %v", r.detail)
	}
	// Only the user's failure counter (and the audit log) moved.
	after := w.snapshot()
	for k, v := range after {
		if before[k] != v && k != "users/"+userID && !strings.HasPrefix(k, "audit/") {
			t.Fatalf("a refused re-enrollment changed %s", k)
		}
	}
	// The same counter as every PIN use: A's wrong PIN now has 3 left.
	r = w.refused(w.signed(a, "PUT", "/v1/me/pin", map[string]string{"old_pin": "975319", "new_pin": "135792"}),
		http.StatusForbidden, "wrong_pin")
	if r.detail["remaining_tries"] != float64(3) {
		t.Fatalf("wrong PIN after the re-enrollment's: %v", r.detail)
	}

	// The current PIN: device B, holding the old credential.
	b := w.newPhone()
	enr, err := b.Enroll(ctx, act.ActivationCode, "phone B", lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	if enr.User.ID != userID || enr.Device.ID == a.State.DeviceID {
		t.Fatalf("enrollment of B %+v", enr)
	}
	creds, err := b.Credentials(ctx)
	if err != nil || len(creds) != 1 || creds[0].ID != cred.ID || creds[0].State != "active" {
		t.Fatalf("B's credentials %+v %v", creds, err)
	}
	// B logs in with the old credential and the kept PIN.
	s := w.createLogin(appKey)
	if _, err := b.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if st, err := b.Confirm(ctx, s.ID, cred.ID, lcPIN, s.Code); err != nil || st != "completed" {
		t.Fatalf("B confirms: %q %v", st, err)
	}
	var view struct {
		State  string               `json:"state"`
		Result protocol.LoginResult `json:"result"`
	}
	w.must(w.do("GET", "/v1/sessions/"+s.ID, nil, map[string]string{"Authorization": "Bearer " + appKey}), http.StatusOK).decode(t, &view)
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(cred.CertificatePEM))
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || view.State != "completed" || view.Result.Credential != cred.ID ||
		!sm2.VerifyASN1WithSM2(pub, nil, view.Result.Challenge, view.Result.Signature) {
		t.Fatalf("B's login with the old key does not verify against the old certificate (%s)", view.State)
	}

	// The operator's view: two devices, one credential.
	var detail struct {
		User struct {
			ID      string   `json:"id"`
			Devices []string `json:"devices"`
		} `json:"user"`
		Devices []struct {
			ID           string    `json:"id"`
			Name         string    `json:"name"`
			PublicKeyPEM string    `json:"public_key_pem"`
			RevokedAt    time.Time `json:"revoked_at"`
		} `json:"devices"`
		Credentials []struct {
			ID string `json:"id"`
		} `json:"credentials"`
	}
	w.must(w.admin("GET", "/v1/admin/users/"+userID, nil), http.StatusOK).decode(t, &detail)
	if detail.User.ID != userID || len(detail.Devices) != 2 || detail.Devices[0].ID != a.State.DeviceID ||
		detail.Devices[1].ID != b.State.DeviceID || detail.Devices[1].Name != "phone B" ||
		!strings.Contains(detail.Devices[0].PublicKeyPEM, "PUBLIC KEY") ||
		len(detail.Credentials) != 1 || detail.Credentials[0].ID != cred.ID {
		t.Fatalf("user detail %s", w.admin("GET", "/v1/admin/users/"+userID, nil).body)
	}

	// A scans a session, then is revoked: it can neither confirm nor do
	// anything else; B goes on.
	s2 := w.createLogin(appKey)
	if _, err := a.Scan(ctx, s2.QR.Payload); err != nil {
		t.Fatal(err)
	}
	var rev struct {
		Device struct {
			ID               string    `json:"id"`
			User             string    `json:"user"`
			RevokedAt        time.Time `json:"revoked_at"`
			RevocationReason string    `json:"revocation_reason"`
		} `json:"device"`
	}
	w.must(w.admin("POST", "/v1/admin/devices/"+a.State.DeviceID+"/revoke", map[string]string{"reason": "lost on the metro"}),
		http.StatusOK).decode(t, &rev)
	if rev.Device.ID != a.State.DeviceID || rev.Device.User != userID || rev.Device.RevokedAt.IsZero() ||
		rev.Device.RevocationReason != "lost on the metro" {
		t.Fatalf("revoked %+v", rev.Device)
	}
	w.refused(w.signed(a, "POST", "/v1/sessions/"+s2.ID+"/confirm",
		map[string]string{"credential": cred.ID, "pin": lcPIN, "code": s2.Code}), http.StatusForbidden, "device_revoked")
	w.refused(w.signed(a, "POST", "/v1/sessions/"+s2.ID+"/reject", nil), http.StatusForbidden, "device_revoked")
	w.refused(w.signed(a, "GET", "/v1/me/credentials", nil), http.StatusForbidden, "device_revoked")
	w.refused(w.signed(a, "POST", "/v1/me/credentials",
		map[string]string{"issuer": "sm2", "alg": "SM2", "purpose": "encrypt", "pin": lcPIN}), http.StatusForbidden, "device_revoked")
	var sv struct {
		State string `json:"state"`
	}
	w.must(w.do("GET", "/v1/sessions/"+s2.ID, nil, map[string]string{"Authorization": "Bearer " + appKey}), http.StatusOK).decode(t, &sv)
	if sv.State != "scanned" {
		t.Fatalf("the revoked device's session is %s, want still scanned", sv.State)
	}
	// Someone holding only A's id (not its key) learns nothing.
	impostor := &phone.Client{BaseURL: w.ts.URL, State: &phone.State{DeviceID: a.State.DeviceID, PrivateKeyPEM: b.State.PrivateKeyPEM}}
	w.refused(w.signed(impostor, "GET", "/v1/me/credentials", nil), http.StatusUnauthorized, "bad_signature")
	if creds, err := b.Credentials(ctx); err != nil || len(creds) != 1 {
		t.Fatalf("B after A's revocation: %v %v", creds, err)
	}

	// The audit trail of the whole story, chain verified, no secrets.
	entries, raw := w.audit()
	enrolls := lcFind(entries, "device.enroll")
	if len(enrolls) != 3 ||
		enrolls[0].Actor != "device:"+a.State.DeviceID || enrolls[0].Outcome != "ok" || enrolls[0].Detail != "pin=set" ||
		enrolls[1].Actor != "activation" || enrolls[1].Outcome != "failed" || enrolls[1].Detail != "wrong_pin" || enrolls[1].User != userID ||
		enrolls[2].Actor != "device:"+b.State.DeviceID || enrolls[2].Outcome != "ok" || enrolls[2].Detail != "pin=current" {
		t.Fatalf("device.enroll entries %+v", enrolls)
	}
	if e := lcFind(entries, "user.activation"); len(e) != 1 || e[0].Actor != "admin" || e[0].User != userID || e[0].Outcome != "ok" {
		t.Fatalf("user.activation entries %+v", e)
	}
	if e := lcFind(entries, "device.revoke"); len(e) != 1 || e[0].Actor != "admin" || e[0].User != userID ||
		!strings.Contains(e[0].Detail, a.State.DeviceID) {
		t.Fatalf("device.revoke entries %+v", e)
	}
	if e := lcFind(entries, "pin.change"); len(e) != 1 || e[0].Outcome != "failed" || e[0].Detail != "wrong_pin" ||
		e[0].Actor != "device:"+a.State.DeviceID {
		t.Fatalf("pin.change entries %+v", e)
	}
	if e := lcFind(entries, "credential.create"); len(e) != 1 || e[0].Credential != cred.ID || e[0].Issuer != "sm2" ||
		e[0].Actor != "device:"+a.State.DeviceID {
		t.Fatalf("credential.create entries %+v", e)
	}
	if e := lcFind(entries, "login"); len(e) != 1 || e[0].Actor != "device:"+b.State.DeviceID || e[0].Credential != cred.ID {
		t.Fatalf("login entries %+v", e)
	}
	for _, secret := range []string{code, act.ActivationCode, strings.ReplaceAll(act.ActivationCode, "-", ""), lcPIN, "975318", "975319", appKey} {
		if strings.Contains(raw, secret) {
			t.Fatalf("the audit log holds a secret %q", secret)
		}
	}
}

// TestLifecycleRefusals: bad input to the lifecycle endpoints is refused
// with a stable code and changes nothing.
func TestLifecycleRefusals(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	ctx := context.Background()
	appID, _, userID, code := w.setup()
	p := w.newPhone()
	if _, err := p.Enroll(ctx, code, "phone", lcPIN); err != nil {
		t.Fatal(err)
	}
	devID := p.State.DeviceID
	w.must(w.admin("POST", "/v1/admin/devices/"+devID+"/revoke", nil), http.StatusOK)
	_, _ = w.audit()

	long := strings.Repeat("丢", 201)
	tests := []struct {
		name         string
		method, path string
		body         any
		token        string
		status       int
		code         string
	}{
		{"activation unknown user", "POST", "/v1/admin/users/usr_nobody/activation", nil, "", 404, "user_not_found"},
		{"activation malformed id", "POST", "/v1/admin/users/USR!/activation", nil, "", 400, "invalid_request"},
		{"activation unknown field", "POST", "/v1/admin/users/" + userID + "/activation", map[string]int{"ttl": 5}, "", 400, "unknown_field"},
		{"activation not json", "POST", "/v1/admin/users/" + userID + "/activation", rawBody("{"), "", 400, "malformed_json"},
		{"activation no token", "POST", "/v1/admin/users/" + userID + "/activation", nil, "-", 401, "missing_token"},
		{"activation wrong token", "POST", "/v1/admin/users/" + userID + "/activation", nil, "wrong", 401, "invalid_token"},
		{"show unknown user", "GET", "/v1/admin/users/usr_nobody", nil, "", 404, "user_not_found"},
		{"show malformed id", "GET", "/v1/admin/users/a%20b", nil, "", 400, "invalid_request"},
		{"show wrong token", "GET", "/v1/admin/users/" + userID, nil, "wrong", 401, "invalid_token"},
		{"revoke unknown device", "POST", "/v1/admin/devices/dev_nobody/revoke", nil, "", 404, "device_not_found"},
		{"revoke malformed id", "POST", "/v1/admin/devices/DEV/revoke", nil, "", 400, "invalid_request"},
		{"revoke again", "POST", "/v1/admin/devices/" + devID + "/revoke", map[string]string{"reason": "again"}, "", 409, "already_revoked"},
		{"revoke long reason", "POST", "/v1/admin/devices/" + devID + "/revoke", map[string]string{"reason": long}, "", 400, "invalid_request"},
		{"revoke bad reason type", "POST", "/v1/admin/devices/" + devID + "/revoke", rawBody(`{"reason": 5}`), "", 400, "malformed_json"},
		{"revoke user id", "POST", "/v1/admin/devices/" + userID + "/revoke", nil, "", 404, "device_not_found"},
		{"revoke no token", "POST", "/v1/admin/devices/" + devID + "/revoke", nil, "-", 401, "missing_token"},
		{"rotate unknown app", "POST", "/v1/admin/apps/app_nobody/rotate", nil, "", 404, "app_not_found"},
		{"rotate malformed id", "POST", "/v1/admin/apps/App.1/rotate", nil, "", 400, "invalid_request"},
		{"rotate unknown field", "POST", "/v1/admin/apps/" + appID + "/rotate", map[string]string{"key": "x"}, "", 400, "unknown_field"},
		{"disable unknown app", "POST", "/v1/admin/apps/app_nobody/disable", nil, "", 404, "app_not_found"},
		{"disable trailing data", "POST", "/v1/admin/apps/" + appID + "/disable", rawBody("{} {}"), "", 400, "malformed_json"},
		{"disable wrong token", "POST", "/v1/admin/apps/" + appID + "/disable", nil, "wrong", 401, "invalid_token"},
		{"rotate with GET", "GET", "/v1/admin/apps/" + appID + "/rotate", nil, "", 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.snapshot()
			hdr := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
			switch tc.token {
			case "-":
				hdr = nil
			case "":
			default:
				hdr["Authorization"] = "Bearer " + tc.token
			}
			w.refused(w.do(tc.method, tc.path, tc.body, hdr), tc.status, tc.code)
			w.unchanged(before, tc.name)
		})
	}
}

// TestAppRotateDisable: a rotated key replaces the old one at once; a
// disabled app's key is refused with app_disabled; both are audited.
func TestAppRotateDisable(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	appID, oldKey, _, _ := w.setup()
	bearer := func(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }
	newSession := func(k string) *resp {
		return w.do("POST", "/v1/sessions", map[string]any{
			"kind": "login", "origin": lcOrigin, "display": map[string]string{"title": "t", "summary": "s"},
		}, bearer(k))
	}
	w.must(newSession(oldKey), http.StatusCreated)

	var rot struct {
		ID           string    `json:"id"`
		Name         string    `json:"name"`
		Origins      []string  `json:"origins"`
		APIKey       string    `json:"api_key"`
		KeyRotatedAt time.Time `json:"key_rotated_at"`
	}
	w.must(w.admin("POST", "/v1/admin/apps/"+appID+"/rotate", nil), http.StatusOK).decode(t, &rot)
	if rot.ID != appID || rot.Name != "招标平台" || !slices.Equal(rot.Origins, []string{lcOrigin}) ||
		!strings.HasPrefix(rot.APIKey, auth.AppKeyPrefix) || rot.APIKey == oldKey || rot.KeyRotatedAt.IsZero() {
		t.Fatalf("rotation answer %+v", rot)
	}
	w.refused(newSession(oldKey), http.StatusUnauthorized, "invalid_token")
	s := w.must(newSession(rot.APIKey), http.StatusCreated)
	var sess lcSession
	s.decode(t, &sess)
	// An empty JSON object is accepted as well as no body.
	var rot2 struct {
		APIKey string `json:"api_key"`
	}
	w.must(w.admin("POST", "/v1/admin/apps/"+appID+"/rotate", map[string]string{}), http.StatusOK).decode(t, &rot2)
	w.refused(newSession(rot.APIKey), http.StatusUnauthorized, "invalid_token")
	key := rot2.APIKey

	var dis struct {
		ID         string    `json:"id"`
		APIKey     string    `json:"api_key"`
		DisabledAt time.Time `json:"disabled_at"`
	}
	w.must(w.admin("POST", "/v1/admin/apps/"+appID+"/disable", nil), http.StatusOK).decode(t, &dis)
	if dis.ID != appID || dis.DisabledAt.IsZero() || dis.APIKey != "" {
		t.Fatalf("disable answer %+v", dis)
	}
	w.refused(newSession(key), http.StatusForbidden, "app_disabled")
	w.refused(w.do("GET", "/v1/sessions/"+sess.ID, nil, bearer(key)), http.StatusForbidden, "app_disabled")
	w.refused(w.do("POST", "/v1/verify", map[string]string{"data": "eA==", "signature": "eA=="}, bearer(key)), http.StatusForbidden, "app_disabled")
	before := w.snapshot()
	w.refused(w.admin("POST", "/v1/admin/apps/"+appID+"/disable", nil), http.StatusConflict, "already_disabled")
	w.refused(w.admin("POST", "/v1/admin/apps/"+appID+"/rotate", nil), http.StatusConflict, "already_disabled")
	w.unchanged(before, "refused disable/rotate of a disabled app")

	type appItem struct {
		ID         string    `json:"id"`
		APIKey     string    `json:"api_key"`
		DisabledAt time.Time `json:"disabled_at"`
	}
	var list struct {
		Apps []appItem `json:"apps"`
	}
	w.must(w.admin("GET", "/v1/admin/apps", nil), http.StatusOK).decode(t, &list)
	// (The server may list its demo app too.)
	i := slices.IndexFunc(list.Apps, func(a appItem) bool { return a.ID == appID })
	if i < 0 || list.Apps[i].DisabledAt.IsZero() || list.Apps[i].APIKey != "" {
		t.Fatalf("app list %+v", list)
	}

	entries, raw := w.audit()
	rots, diss := lcFind(entries, "app.rotate"), lcFind(entries, "app.disable")
	if len(rots) != 2 || len(diss) != 1 || rots[0].App != appID || diss[0].App != appID ||
		rots[0].Actor != "admin" || diss[0].Actor != "admin" || diss[0].Outcome != "ok" {
		t.Fatalf("app entries %+v %+v", rots, diss)
	}
	for _, k := range []string{oldKey, rot.APIKey, key} {
		if strings.Contains(raw, k) {
			t.Fatal("an app key is in the audit log")
		}
	}
}

// TestOperatorAudit: every operator and enrollment action appends an
// entry with the right actor and ids, refused PIN changes as failed; the
// chain verifies.
func TestOperatorAudit(t *testing.T) {
	t.Parallel()
	testkit.OpenSSL(t)
	w := lcNew(t)
	ctx := context.Background()
	appID, _, userID, code := w.setup()
	ext := newOpenSSLCA(t, "lc external CA")
	w.must(w.admin("POST", "/v1/admin/issuers", map[string]any{
		"id": "ext", "name": "External", "mode": "external", "chain_pem": ext.cert,
	}), http.StatusCreated)
	p := w.newPhone()
	if _, err := p.Enroll(ctx, code, "phone", lcPIN); err != nil {
		t.Fatal(err)
	}
	dev := p.State.DeviceID
	sign, err := p.RequestCredential(ctx, "sm2", "SM2", "sign", lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.RequestCredential(ctx, "sm2", "SM2", "encrypt", "975318"); phone.Code(err) != "wrong_pin" {
		t.Fatalf("credential with a wrong PIN: %v", err)
	}
	pending, err := p.RequestCredential(ctx, "ext", "RSA", "sign", lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	cert := ext.signCSR(pending.CSRPEM, "critical,digitalSignature,nonRepudiation")
	w.must(w.admin("POST", "/v1/admin/credentials/"+pending.ID+"/certificate", map[string]string{"certificate_pem": cert}), http.StatusOK)
	w.must(w.admin("POST", "/v1/admin/credentials/"+sign.ID+"/revoke", map[string]string{"reason": "superseded"}), http.StatusOK)
	w.refused(w.signed(p, "PUT", "/v1/me/pin", map[string]string{"old_pin": lcPIN, "new_pin": "111111"}), http.StatusBadRequest, "weak_pin")
	if err := p.ChangePIN(ctx, lcPIN, "135792"); err != nil {
		t.Fatal(err)
	}
	w.must(w.admin("POST", "/v1/admin/users/"+userID+"/activation", nil), http.StatusCreated)
	w.must(w.admin("POST", "/v1/admin/apps/"+appID+"/rotate", nil), http.StatusOK)
	w.must(w.admin("POST", "/v1/admin/apps/"+appID+"/disable", nil), http.StatusOK)
	w.must(w.admin("POST", "/v1/admin/devices/"+dev+"/revoke", nil), http.StatusOK)

	all, _ := w.audit()
	// The demo app and its webhook, registered by the gateway at start,
	// come first; the test's own entries follow.
	var entries []lcAudit
	for _, e := range all {
		if e.Actor != "gateway" {
			entries = append(entries, e)
		}
	}
	first := int64(len(all)-len(entries)) + 1
	type want struct{ action, actor, user, cred, issuer, app, outcome, detail string }
	wants := []want{
		{"issuer.add", "admin", "", "", "sm2", "", "ok", "mode=internal alg=SM2"},
		{"app.add", "admin", "", "", "", appID, "ok", ""},
		{"user.add", "admin", userID, "", "", "", "ok", ""},
		{"issuer.add", "admin", "", "", "ext", "", "ok", "mode=external alg=RSA"},
		{"device.enroll", "device:" + dev, userID, "", "", "", "ok", "pin=set"},
		{"credential.create", "device:" + dev, userID, sign.ID, "sm2", "", "ok", "SM2 sign active"},
		{"credential.create", "device:" + dev, userID, "", "sm2", "", "failed", "wrong_pin"},
		{"credential.create", "device:" + dev, userID, pending.ID, "ext", "", "ok", "RSA sign pending"},
		{"credential.import", "admin", userID, pending.ID, "ext", "", "ok", ""},
		{"credential.revoke", "admin", userID, sign.ID, "sm2", "", "ok", "reason=superseded"},
		{"pin.change", "device:" + dev, userID, "", "", "", "failed", "weak_pin"},
		{"pin.change", "device:" + dev, userID, "", "", "", "ok", ""},
		{"user.activation", "admin", userID, "", "", "", "ok", ""},
		{"app.rotate", "admin", "", "", "", appID, "ok", ""},
		{"app.disable", "admin", "", "", "", appID, "ok", ""},
		{"device.revoke", "admin", userID, "", "", "", "ok", "device=" + dev},
	}
	if len(entries) != len(wants) {
		t.Fatalf("%d audit entries, want %d: %+v", len(entries), len(wants), entries)
	}
	for i, wt := range wants {
		e := entries[i]
		detailOK := wt.detail == "" || e.Detail == wt.detail || (wt.action == "credential.import" && strings.HasPrefix(e.Detail, "serial="))
		if e.Action != wt.action || e.Actor != wt.actor || e.User != wt.user || e.Credential != wt.cred ||
			e.Issuer != wt.issuer || e.App != wt.app || e.Outcome != wt.outcome || !detailOK || e.Seq != first+int64(i) {
			t.Errorf("entry %d: %+v, want %+v", i+1, e, wt)
		}
	}
}
