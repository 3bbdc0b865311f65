package api_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// Registration with RA review: an applicant registers (unsigned), the
// operator approves or rejects with a reason, the approved applicant
// enrolls with the activation code and gets a credential.

const (
	regIDNumber   = "11010519491231002X" // GB 11643's own example
	regCreditCode = "91350100M000100Y43" // a published 统一社会信用代码
	regPolicy     = "2026-01"            // config default
)

func regLicence(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 40))
	for x := range 64 {
		img.Set(x, x%40, color.RGBA{200, 0, 0, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func person(name, id, phone string) protocol.RegisterRequest {
	return protocol.RegisterRequest{Kind: "person", Name: name, IDNumber: id, Phone: phone,
		Consent: protocol.Consent{PolicyVersion: regPolicy}}
}

func (w *lcWorld) register(req any) protocol.RegistrationCreated {
	w.t.Helper()
	var out protocol.RegistrationCreated
	w.must(w.do("POST", "/v1/register", req, nil), http.StatusCreated).decode(w.t, &out)
	if out.State != protocol.RegistrationPending || !strings.HasPrefix(out.ID, "reg_") {
		w.t.Fatalf("registered: %+v", out)
	}
	return out
}

func (w *lcWorld) approve(id, reason string) protocol.RegistrationApproval {
	w.t.Helper()
	var out protocol.RegistrationApproval
	w.must(w.admin("POST", "/v1/admin/registrations/"+id+"/approve", map[string]string{"reason": reason}), http.StatusOK).decode(w.t, &out)
	return out
}

func TestRegistrationReviewEnrollCredential(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	ctx := context.Background()
	seed.Make(t, w.ts.URL, w.ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "reg SM2 Root")},
	})
	var pol protocol.RegistrationPolicy
	w.must(w.do("GET", "/v1/register/policy", nil, nil), http.StatusOK).decode(t, &pol)
	if pol.PolicyVersion != regPolicy || pol.MaxLicenceBytes != 512<<10 || pol.MaxLicencePixels != 16_000_000 {
		t.Fatalf("policy %+v", pol)
	}

	p := w.register(person("张三", strings.ToLower(regIDNumber), "+86 138 0000 1234"))
	org := w.register(protocol.RegisterRequest{Kind: "organization", Name: "福建某某科技有限公司", CreditCode: strings.ToLower(regCreditCode),
		Phone: "0591-1234567", LegalRep: "王五", LicencePNG: regLicence(t), Consent: protocol.Consent{PolicyVersion: regPolicy}})

	var list protocol.RegistrationList
	w.must(w.admin("GET", "/v1/admin/registrations?state=pending", nil), http.StatusOK).decode(t, &list)
	if len(list.Registrations) != 2 || list.Registrations[0].ID != p.ID || list.Registrations[1].LicenceType != "image/png" ||
		list.Registrations[1].Licence != nil || list.Registrations[0].Consent.PolicyVersion != regPolicy || list.Registrations[0].Consent.AcceptedAt.IsZero() {
		t.Fatalf("pending: %+v", list)
	}
	var one protocol.Registration
	w.must(w.admin("GET", "/v1/admin/registrations/"+org.ID, nil), http.StatusOK).decode(t, &one)
	if !bytes.Equal(one.Licence, regLicence(t)) || one.CreditCode != regCreditCode || one.LegalRep != "王五" || one.Checks[0].Outcome != "refer" {
		t.Fatalf("show: %+v", one)
	}

	for _, tc := range []struct {
		id, name, kind string
		wantO          string
	}{{p.ID, "张三", "", ""}, {org.ID, "福建某某科技有限公司", "organization", "福建某某科技有限公司"}} {
		a := w.approve(tc.id, "documents checked at the counter")
		if a.ActivationCode == "" || a.EnrollmentURL != w.ts.URL+"/m/#activate="+a.ActivationCode && !strings.HasSuffix(a.EnrollmentURL, "/m/#activate="+a.ActivationCode) ||
			a.ActivationExpiresAt.IsZero() || a.User.Registration != tc.id || a.User.Name != tc.name || a.User.Kind != tc.kind ||
			a.Registration.State != protocol.RegistrationApproved || a.Registration.DecidedBy == "" {
			t.Fatalf("approval: %+v", a)
		}
		// A second decision is refused.
		w.refused(w.admin("POST", "/v1/admin/registrations/"+tc.id+"/approve", nil), http.StatusConflict, protocol.CodeRegistrationDecided)
		w.refused(w.admin("POST", "/v1/admin/registrations/"+tc.id+"/reject", map[string]string{"reason": "late"}), http.StatusConflict, protocol.CodeRegistrationDecided)

		ph := w.newPhone()
		if _, err := ph.Enroll(ctx, a.ActivationCode, "phone", lcPIN); err != nil {
			t.Fatalf("enroll: %v", err)
		}
		c, err := ph.RequestCredential(ctx, "sm2", "SM2", "sign", lcPIN)
		if err != nil {
			t.Fatalf("credential: %v", err)
		}
		blk, _ := pem.Decode([]byte(c.CertificatePEM))
		if blk == nil {
			t.Fatalf("no certificate: %+v", c)
		}
		cert, err := smx509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Subject.CommonName != tc.name {
			t.Fatalf("subject %v", cert.Subject)
		}
		if tc.wantO != "" && (len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != tc.wantO || cert.Subject.SerialNumber != regCreditCode) {
			t.Fatalf("organisation subject %v", cert.Subject)
		}
	}
	entries, _ := w.audit()
	sub, appr := lcFind(entries, "registration.submit"), lcFind(entries, "registration.approve")
	if len(sub) != 2 || len(appr) != 2 || !strings.Contains(appr[0].Detail, "reason=documents checked at the counter") ||
		!strings.Contains(appr[0].Detail, "registration="+p.ID) || appr[0].User == "" || appr[0].Actor == "" ||
		!strings.Contains(sub[0].Detail, "policy="+regPolicy) {
		t.Fatalf("audit: %+v %+v", sub, appr)
	}
	// Looking at one registration (the licence image) is audited, and
	// so is the list (every applicant's numbers), as one entry.
	if v := lcFind(entries, "registration.view"); len(v) != 1 || v[0].Actor != "admin" || v[0].Detail != "registration="+org.ID+" licence=image/png" {
		t.Fatalf("registration.view entries %+v", v)
	}
	if v := lcFind(entries, "registration.list"); len(v) != 1 || v[0].Actor != "admin" || v[0].Detail != "state=pending_review registrations=2" || v[0].Outcome != "ok" {
		t.Fatalf("registration.list entries %+v", v)
	}
}

func TestRegistrationRejectWithReason(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	g := w.register(person("赵六", "440524188001010014", "13900001111"))
	before := w.snapshot()
	w.refused(w.admin("POST", "/v1/admin/registrations/"+g.ID+"/reject", nil), http.StatusUnsupportedMediaType, protocol.CodeUnsupportedMediaType)
	for _, body := range []any{map[string]string{}, map[string]string{"reason": "  "}} {
		w.refused(w.admin("POST", "/v1/admin/registrations/"+g.ID+"/reject", body), http.StatusBadRequest, protocol.CodeInvalidRequest)
	}
	w.unchanged(before, "reject without a reason")
	// A named operator decides: the record and the audit entry name them.
	var opr struct {
		Token string `json:"token"`
	}
	w.must(w.admin("POST", "/v1/admin/operators", map[string]string{"name": "ra-li"}), http.StatusCreated).decode(t, &opr)
	var out protocol.Registration
	w.must(w.do("POST", "/v1/admin/registrations/"+g.ID+"/reject", map[string]string{"reason": "ID card photo unreadable"},
		map[string]string{"Authorization": "Bearer " + opr.Token}), http.StatusOK).decode(t, &out)
	if out.State != protocol.RegistrationRejected || out.Reason != "ID card photo unreadable" || out.DecidedAt.IsZero() || out.DecidedBy != "operator:ra-li" {
		t.Fatalf("rejected: %+v", out)
	}
	w.refused(w.admin("POST", "/v1/admin/registrations/"+g.ID+"/approve", nil), http.StatusConflict, protocol.CodeRegistrationDecided)
	var list protocol.RegistrationList
	w.must(w.admin("GET", "/v1/admin/registrations?state=pending", nil), http.StatusOK).decode(t, &list)
	if len(list.Registrations) != 0 {
		t.Fatalf("still pending: %+v", list)
	}
	// The same person may apply again once the first is decided.
	w.register(person("赵六", "440524188001010014", "13900001111"))
	entries, _ := w.audit()
	rej := lcFind(entries, "registration.reject")
	if len(rej) != 1 || !strings.Contains(rej[0].Detail, "reason=ID card photo unreadable") || rej[0].Actor != "operator:ra-li" {
		t.Fatalf("audit: %+v", rej)
	}
}

// TestRegistrationBadInput: every refused registration has its stable
// code and leaves the store as it was.
func TestRegistrationBadInput(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	w.register(person("钱七", regIDNumber, "13800000001"))
	notImage := []byte("\x89PNG\r\n\x1a\n but not really a PNG")
	truncated := regLicence(t)
	truncated = truncated[:len(truncated)-30]
	huge := bytes.Repeat([]byte{0}, 600<<10)
	copy(huge, regLicence(t))
	org := func(mut func(*protocol.RegisterRequest)) protocol.RegisterRequest {
		r := protocol.RegisterRequest{Kind: "organization", Name: "某公司", CreditCode: regCreditCode, Phone: "010-1",
			Consent: protocol.Consent{PolicyVersion: regPolicy}}
		mut(&r)
		return r
	}
	pers := func(mut func(*protocol.RegisterRequest)) protocol.RegisterRequest {
		r := person("孙八", "440524188001010014", "13800000002")
		mut(&r)
		return r
	}
	before := w.snapshot()
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"id checksum", pers(func(r *protocol.RegisterRequest) { r.IDNumber = "440524188001010015" }), 400, protocol.CodeInvalidIDNumber},
		{"id 17 chars", pers(func(r *protocol.RegisterRequest) { r.IDNumber = "44052418800101001" }), 400, protocol.CodeInvalidIDNumber},
		{"id missing", pers(func(r *protocol.RegisterRequest) { r.IDNumber = "" }), 400, protocol.CodeInvalidIDNumber},
		{"credit checksum", org(func(r *protocol.RegisterRequest) { r.CreditCode = "91350100M000100Y44" }), 400, protocol.CodeInvalidCreditCode},
		{"credit bad char", org(func(r *protocol.RegisterRequest) { r.CreditCode = "91350100M000100I43" }), 400, protocol.CodeInvalidCreditCode},
		{"credit missing", org(func(r *protocol.RegisterRequest) { r.CreditCode = "" }), 400, protocol.CodeInvalidCreditCode},
		{"org with id number", org(func(r *protocol.RegisterRequest) { r.IDNumber = regIDNumber }), 400, protocol.CodeInvalidRequest},
		{"person with licence", pers(func(r *protocol.RegisterRequest) { r.LicencePNG = regLicence(t) }), 400, protocol.CodeInvalidRequest},
		{"old policy", pers(func(r *protocol.RegisterRequest) { r.Consent.PolicyVersion = "2025-01" }), 400, protocol.CodePolicyVersion},
		{"no consent", pers(func(r *protocol.RegisterRequest) { r.Consent.PolicyVersion = "" }), 400, protocol.CodeInvalidRequest},
		{"no phone", pers(func(r *protocol.RegisterRequest) { r.Phone = "" }), 400, protocol.CodeInvalidRequest},
		{"bad phone", pers(func(r *protocol.RegisterRequest) { r.Phone = "call me" }), 400, protocol.CodeInvalidRequest},
		{"no name", pers(func(r *protocol.RegisterRequest) { r.Name = "" }), 400, protocol.CodeInvalidRequest},
		{"kind", pers(func(r *protocol.RegisterRequest) { r.Kind = "robot" }), 400, protocol.CodeInvalidRequest},
		{"licence not image", org(func(r *protocol.RegisterRequest) { r.LicencePNG = notImage }), 400, protocol.CodeInvalidLicence},
		{"licence text", org(func(r *protocol.RegisterRequest) { r.LicencePNG = []byte("hello") }), 400, protocol.CodeInvalidLicence},
		{"licence truncated", org(func(r *protocol.RegisterRequest) { r.LicencePNG = truncated }), 400, protocol.CodeInvalidLicence},
		{"licence too big", org(func(r *protocol.RegisterRequest) { r.LicencePNG = huge }), 400, protocol.CodeInvalidLicence},
		{"malformed json", "{not json", 400, protocol.CodeMalformedJSON},
		{"replayed registration", person("钱七", regIDNumber, "13800000001"), 409, protocol.CodeRegistrationPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *resp
			if s, ok := tc.body.(string); ok {
				r = w.send(mustRequest(t, "POST", w.url+"/v1/register", s))
			} else {
				r = w.do("POST", "/v1/register", tc.body, nil)
			}
			if r.status != tc.status || r.code != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code, tc.status, tc.code, r.body)
			}
		})
	}
	w.unchanged(before, "refused registrations")
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}

// TestRegistrationOperatorOnly: the queue and its decisions need the
// operator's token; unknown ids are registration_not_found.
func TestRegistrationOperatorOnly(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	g := w.register(person("周九", regIDNumber, "13800000003"))
	before := w.snapshot()
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer wrong-token-wrong-token"}} {
		for _, rq := range []struct{ method, path string }{
			{"GET", "/v1/admin/registrations"}, {"GET", "/v1/admin/registrations/" + g.ID},
			{"POST", "/v1/admin/registrations/" + g.ID + "/approve"}, {"POST", "/v1/admin/registrations/" + g.ID + "/reject"},
		} {
			r := w.do(rq.method, rq.path, map[string]string{"reason": "x"}, hdr)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("%s %s with %v: %d %s", rq.method, rq.path, hdr, r.status, r.body)
			}
		}
	}
	w.refused(w.admin("POST", "/v1/admin/registrations/reg_0000000000000000/approve", nil), http.StatusNotFound, protocol.CodeRegistrationNotFound)
	w.refused(w.admin("GET", "/v1/admin/registrations/usr_0000000000000000", nil), http.StatusNotFound, protocol.CodeRegistrationNotFound)
	w.refused(w.admin("GET", "/v1/admin/registrations?state=maybe", nil), http.StatusBadRequest, protocol.CodeInvalidRequest)
	w.unchanged(before, "unauthorized decisions")
}

// TestCorrectionThroughRAReview: a user's correction waits for the RA;
// approval applies it, a replayed request is refused.
func TestCorrectionThroughRAReview(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	ctx := context.Background()
	a := w.approve(w.register(person("吴十", regIDNumber, "13800000004")).ID, "")
	ph := w.newPhone()
	if _, err := ph.Enroll(ctx, a.ActivationCode, "phone", lcPIN); err != nil {
		t.Fatal(err)
	}
	w.refused(w.signed(ph, "POST", "/v1/me/corrections", map[string]string{"id_number": "440524188001010015"}), http.StatusBadRequest, protocol.CodeInvalidIDNumber)
	w.refused(w.signed(ph, "POST", "/v1/me/corrections", map[string]string{}), http.StatusBadRequest, protocol.CodeInvalidRequest)
	key, err := ph.State.Key()
	if err != nil {
		t.Fatal(err)
	}
	req := deviceRequest(t, "POST", w.url+"/v1/me/corrections", map[string]string{"phone": "13999998888", "name": "吴拾"}, ph.State.DeviceID, key, time.Now())
	var c protocol.RegistrationCreated
	w.must(w.send(req), http.StatusCreated).decode(t, &c)
	again, _ := req.GetBody()
	req2, _ := http.NewRequest("POST", req.URL.String(), again)
	req2.Header = req.Header.Clone()
	w.refused(w.send(req2), http.StatusUnauthorized, protocol.CodeReplayedNonce)
	w.refused(w.signed(ph, "POST", "/v1/me/corrections", map[string]string{"phone": "13700000000"}), http.StatusConflict, protocol.CodeRegistrationPending)
	// Unsigned: refused.
	r := w.do("POST", "/v1/me/corrections", map[string]string{"phone": "1"}, nil)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("unsigned correction: %d %s", r.status, r.body)
	}

	var u protocol.UserDetail
	w.must(w.admin("GET", "/v1/admin/users/"+a.User.ID, nil), http.StatusOK).decode(t, &u)
	if u.User.Phone != "13800000004" {
		t.Fatalf("corrected before review: %+v", u)
	}
	ap := w.approve(c.ID, "phone bill seen")
	if ap.User.Phone != "13999998888" || ap.User.Name != "吴拾" || ap.User.IDNumber != regIDNumber || ap.ActivationCode != "" {
		t.Fatalf("correction approval: %+v", ap)
	}
	w.must(w.admin("GET", "/v1/admin/users/"+a.User.ID, nil), http.StatusOK).decode(t, &u)
	if u.User.Phone != "13999998888" || u.User.Name != "吴拾" {
		t.Fatalf("after approval: %+v", u)
	}
	entries, _ := w.audit()
	if n := len(lcFind(entries, "correction.submit")); n != 1 {
		t.Fatalf("%d correction.submit entries", n)
	}
}

// TestRegistrationStatus: the applicant asks where the request stands
// with the id the registration answered (unsigned): pending, then
// approved (no activation code, no personal field in the answer), or
// rejected with the RA's reason. Unknown and malformed ids are refused
// with their codes and change nothing.
func TestRegistrationStatus(t *testing.T) {
	w := lcNew(t)
	status := func(id string) (protocol.RegistrationStatus, string) {
		t.Helper()
		var out protocol.RegistrationStatus
		var raw map[string]any
		rs := w.must(w.do("GET", "/v1/register/"+id, nil, nil), http.StatusOK)
		rs.decode(t, &out)
		rs.decode(t, &raw)
		for _, k := range []string{"name", "id_number", "phone", "credit_code", "licence", "activation_code", "checks"} {
			if _, ok := raw[k]; ok {
				t.Errorf("the status answers %s: %v", k, raw)
			}
		}
		return out, string(rs.body)
	}
	a := w.register(person("周九", "440524188001010014", "13800000009"))
	b := w.register(person("吴十", regIDNumber, "13800000010"))
	if s, raw := status(a.ID); s.ID != a.ID || s.Type != "register" || s.State != protocol.RegistrationPending || s.Kind != "person" ||
		s.CreatedAt.IsZero() || !s.DecidedAt.IsZero() || s.Reason != "" {
		t.Fatalf("pending: %s", raw)
	}
	w.approve(a.ID, "checked at the counter")
	if s, raw := status(a.ID); s.State != protocol.RegistrationApproved || s.DecidedAt.IsZero() || s.Reason != "" ||
		strings.Contains(raw, "counter") {
		t.Fatalf("approved: %s", raw)
	}
	w.must(w.admin("POST", "/v1/admin/registrations/"+b.ID+"/reject", map[string]string{"reason": "身份证照片不清晰"}), http.StatusOK)
	if s, raw := status(b.ID); s.State != protocol.RegistrationRejected || s.Reason != "身份证照片不清晰" || s.DecidedAt.IsZero() {
		t.Fatalf("rejected: %s", raw)
	}
	before := w.snapshot()
	w.refused(w.do("GET", "/v1/register/reg_0000000000000000", nil, nil), http.StatusNotFound, protocol.CodeRegistrationNotFound)
	w.refused(w.do("GET", "/v1/register/usr_0000000000000000", nil, nil), http.StatusNotFound, protocol.CodeRegistrationNotFound)
	w.refused(w.do("GET", "/v1/register/"+strings.Repeat("a", 200), nil, nil), http.StatusBadRequest, protocol.CodeInvalidRequest)
	w.refused(w.do("GET", "/v1/register/a%20b", nil, nil), http.StatusBadRequest, protocol.CodeInvalidRequest)
	w.unchanged(before, "status reads")
}
