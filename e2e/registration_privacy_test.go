package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// call sends a JSON request to ts (with the admin token when asked) and
// decodes a JSON answer into out; it returns the status.
func call(t *testing.T, ts *servertest.TS, method, path string, asAdmin bool, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if asAdmin {
		req.Header.Set("Authorization", "Bearer "+ts.AdminToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// storeDump is every live key and value of ts's store (opened), each value
// followed by what its JSON strings hold as base64 (the licence image),
// for a byte search.
func storeDump(t *testing.T, ts *servertest.TS) []byte {
	t.Helper()
	kvs, _, err := ts.Server.Store().List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, kv := range kvs {
		buf.WriteString(kv.Key + "\n")
		buf.Write(kv.Value)
		buf.WriteString("\n")
		var v any
		if json.Unmarshal(kv.Value, &v) != nil {
			continue
		}
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case string:
				if d, err := base64.StdEncoding.DecodeString(x); err == nil && len(d) > 16 {
					buf.Write(d)
					buf.WriteString("\n")
				}
			}
		}
		walk(v)
	}
	return buf.Bytes()
}

// A self-registered organisation (POST /v1/register → RA approval →
// enrollment → credential) finds its registration in GET /v1/me/data —
// the registration fields, the consent with the policy version and its
// time, the licence image itself (the export keeps the image, with its
// type and size) — and the operator's copy says the same; DELETE /v1/me
// then leaves none of it in a dump of the store.
func TestRegistrationExportedThenDeleted(t *testing.T) {
	t.Parallel()
	ts := servertest.Start(t)
	seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "e2e registration Root")}})
	var pol protocol.RegistrationPolicy
	if st := call(t, ts, "GET", "/v1/register/policy", false, nil, &pol); st != http.StatusOK || pol.PolicyVersion == "" {
		t.Fatalf("policy: %d %+v", st, pol)
	}

	img := image.NewRGBA(image.Rect(0, 0, 80, 50))
	for x := range 80 {
		img.Set(x, x%50, color.RGBA{0, 90, 200, 255})
	}
	var licence bytes.Buffer
	if err := png.Encode(&licence, img); err != nil {
		t.Fatal(err)
	}
	req := protocol.RegisterRequest{Kind: "organization", Name: "厦门登记导出测试有限公司", CreditCode: "91350100M000100Y43",
		Phone: "0592-7654321", LegalRep: "欧阳登记", LicencePNG: licence.Bytes(), Consent: protocol.Consent{PolicyVersion: pol.PolicyVersion}}
	submitted := time.Now()
	var created protocol.RegistrationCreated
	if st := call(t, ts, "POST", "/v1/register", false, req, &created); st != http.StatusCreated || created.State != protocol.RegistrationPending {
		t.Fatalf("register: %d %+v", st, created)
	}
	var appr protocol.RegistrationApproval
	if st := call(t, ts, "POST", "/v1/admin/registrations/"+created.ID+"/approve", true, map[string]string{"reason": "licence checked"}, &appr); st != http.StatusOK || appr.ActivationCode == "" {
		t.Fatalf("approve: %d %+v", st, appr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*flowTimeout)
	defer cancel()
	ph := newPhone(ts)()
	if _, err := ph.Enroll(ctx, appr.ActivationCode, "公司手机", testPIN); err != nil {
		t.Fatal(err)
	}
	cred, err := ph.RequestCredential(ctx, "sm2", "SM2", "sign", testPIN)
	if err != nil {
		t.Fatal(err)
	}
	userID := appr.User.ID
	// A portal the user logs in to: it has served them (and would get
	// their credentials' expiry reminders).
	app := addApp(t, ts, "登记门户")
	pc := &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey, Origin: testOrigin}
	sess, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Origin: testOrigin,
		Display: portal.Display{Title: "登录", Summary: "e2e"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ph.Scan(ctx, sess.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if st, err := ph.Confirm(ctx, sess.ID, cred.ID, testPIN, sess.Code); err != nil || st != portal.StateCompleted {
		t.Fatalf("login: %q %v", st, err)
	}

	mine, err := ph.MyData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var hooks struct {
		Served []struct{ App string } `json:"served"`
	}
	if err := json.Unmarshal(mine.Other["webhooks"], &hooks); err != nil || len(hooks.Served) != 1 || hooks.Served[0].App != app.ID {
		t.Fatalf("the apps that served the user, in the export: %v %s", err, mine.Other["webhooks"])
	}
	var regs []protocol.Registration
	if err := json.Unmarshal(mine.Other["registrations"], &regs); err != nil || len(regs) != 1 {
		t.Fatalf("registrations in the export: %v %s", err, mine.Other["registrations"])
	}
	r := regs[0]
	if r.ID != created.ID || r.Type != "register" || r.State != protocol.RegistrationApproved || r.Kind != "organization" ||
		r.Name != req.Name || r.CreditCode != req.CreditCode || r.Phone != req.Phone || r.LegalRep != req.LegalRep || r.User != userID {
		t.Fatalf("exported registration %+v", r)
	}
	if r.Consent == nil || r.Consent.PolicyVersion != pol.PolicyVersion ||
		r.Consent.AcceptedAt.Before(submitted.Add(-time.Second)) || r.Consent.AcceptedAt.After(time.Now()) {
		t.Fatalf("exported consent %+v (submitted at %s)", r.Consent, submitted)
	}
	if r.LicenceType != "image/png" || r.LicenceBytes != licence.Len() || !bytes.Equal(r.Licence, licence.Bytes()) {
		t.Fatalf("exported licence: %s, %d bytes, image of %d bytes", r.LicenceType, r.LicenceBytes, len(r.Licence))
	}
	if mine.User == nil || mine.User.ID != userID || mine.User.Registration != created.ID || mine.User.Name != req.Name ||
		len(mine.Credentials) != 1 || mine.Credentials[0].ID != cred.ID || len(mine.Devices) != 1 {
		t.Fatalf("export: user %+v, %d credentials, %d devices", mine.User, len(mine.Credentials), len(mine.Devices))
	}

	// The operator's copy (a request made to the operator) is the same.
	theirs, err := admin(ts).UserData(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]any{
		"user": {mine.User, theirs.User}, "devices": {mine.Devices, theirs.Devices}, "credentials": {mine.Credentials, theirs.Credentials},
		"seals": {mine.Seals, theirs.Seals}, "delegations": {mine.Delegations, theirs.Delegations}, "other": {mine.Other, theirs.Other},
	} {
		a, _ := json.Marshal(pair[0])
		b, _ := json.Marshal(pair[1])
		if !bytes.Equal(a, b) {
			t.Errorf("the operator's copy differs in %s:\n%s\n%s", name, a, b)
		}
	}
	// The audit entries of the user's export are all in the operator's.
	seen := map[int64]protocol.AuditEntry{}
	for _, e := range theirs.Audit {
		seen[e.Seq] = e
	}
	for _, e := range mine.Audit {
		if o, ok := seen[e.Seq]; !ok || !reflect.DeepEqual(o, e) {
			t.Errorf("audit entry %d of the user's export is not in the operator's copy", e.Seq)
		}
	}

	personal := map[string][]byte{"name": []byte(req.Name), "credit code": []byte(req.CreditCode), "phone": []byte(req.Phone),
		"legal representative": []byte(req.LegalRep), "licence image": licence.Bytes()}
	find := func(dump []byte) []string {
		var found []string
		for what, v := range personal {
			if bytes.Contains(dump, v) {
				found = append(found, what)
			}
		}
		return found
	}
	if found := find(storeDump(t, ts)); len(found) != len(personal) {
		t.Fatalf("the dump before the deletion finds only %v: it cannot see the fields", found)
	}
	out, err := ph.DeleteAccount(ctx, testPIN)
	if err != nil || out.User != userID || out.Credentials != 1 || len(out.DeviceIDs) != 1 {
		t.Fatalf("delete: %+v %v", out, err)
	}
	// The one trace of the user id outside the store, with what `audit
	// erase` needs (docs/privacy.md): logged once, as answered.
	if l := ts.LogLines(`msg="account deleted"`, "user="+userID, "pseudonym="+out.Pseudonym, out.DeviceIDs[0]); len(l) != 1 || strings.Contains(l[0], "resumed") {
		t.Fatalf("the deletion's log line: %q", l)
	}
	if found := find(storeDump(t, ts)); len(found) > 0 {
		t.Fatalf("after DELETE /v1/me the store still holds the %s", strings.Join(found, ", "))
	}
	// Nor which apps served the user.
	for _, p := range []string{"webhook-served/" + userID + "/", "webhook-reminded/" + userID + "/"} {
		if kvs, _, err := ts.Server.Store().List(ctx, p); err != nil || len(kvs) > 0 {
			t.Fatalf("after DELETE /v1/me, under %s: %d keys (%v)", p, len(kvs), err)
		}
	}
	if st := call(t, ts, "GET", "/v1/admin/registrations/"+created.ID, true, nil, nil); st != http.StatusNotFound {
		t.Fatalf("the registration after the deletion: %d", st)
	}
	if _, err := admin(ts).UserData(ctx, userID); protocol.ErrorCode(err) != protocol.CodeUserNotFound {
		t.Fatalf("the operator's copy after the deletion: %v", err)
	}
}
