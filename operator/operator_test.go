package operator_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestOperatorAPI walks every call of the client against a real gateway
// and checks what each answers.
func TestOperatorAPI(t *testing.T) {
	t.Parallel()
	ts := servertest.Start(t)
	ctx := context.Background()
	op := &operator.Client{BaseURL: ts.URL, Token: ts.AdminToken}

	iss, err := op.AddIssuer(ctx, operator.IssuerRequest{ID: "sm2", Name: "SM2 CA", Mode: "internal", Alg: "SM2", Generate: true,
		Subject: &operator.IssuerSubject{CommonName: "operator test SM2 Root", Country: "CN"}})
	if err != nil {
		t.Fatal(err)
	}
	if iss.ID != "sm2" || iss.Mode != "internal" || iss.Alg != "SM2" || !strings.Contains(iss.CertificatePEM, "BEGIN CERTIFICATE") ||
		!strings.Contains(iss.Subject, "operator test SM2 Root") || !iss.NotAfter.After(time.Now()) || len(iss.Profile.Algs) == 0 {
		t.Fatalf("issuer %+v", iss)
	}
	_, err = op.AddIssuer(ctx, operator.IssuerRequest{ID: "sm2", Name: "again", Mode: "internal", Alg: "SM2", Generate: true,
		Subject: &operator.IssuerSubject{CommonName: "again"}})
	if !operator.IsCode(err, "issuer_exists") {
		t.Fatalf("second issuer sm2: %v", err)
	}
	_, err = op.AddIssuer(ctx, operator.IssuerRequest{Name: "no mode"})
	var ae *operator.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "invalid_request" || ae.Field != "mode" {
		t.Fatalf("issuer without mode: %#v", err)
	}
	list, err := op.Issuers(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "sm2" || list[0].CertificatePEM != iss.CertificatePEM {
		t.Fatalf("issuers %+v %v", list, err)
	}

	app, err := op.AddApp(ctx, operator.AppRequest{Name: "招标平台", Origins: []string{"https://bid.example.cn"}})
	if err != nil || app.ID == "" || app.APIKey == "" || app.Name != "招标平台" || len(app.Origins) != 1 {
		t.Fatalf("app %+v %v", app, err)
	}
	rot, err := op.RotateApp(ctx, app.ID)
	if err != nil || rot.APIKey == "" || rot.APIKey == app.APIKey || rot.KeyRotatedAt.IsZero() {
		t.Fatalf("rotated %+v %v", rot, err)
	}
	dis, err := op.DisableApp(ctx, app.ID)
	if err != nil || dis.DisabledAt.IsZero() || dis.APIKey != "" {
		t.Fatalf("disabled %+v %v", dis, err)
	}
	if _, err := op.DisableApp(ctx, app.ID); !operator.IsCode(err, "already_disabled") {
		t.Fatalf("disable twice: %v", err)
	}
	apps, err := op.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var listed *operator.App
	for _, a := range apps { // the demo app is there too
		if a.ID == app.ID {
			listed = a
		}
		if a.APIKey != "" {
			t.Fatalf("the app list shows a key: %+v", a)
		}
	}
	if listed == nil || listed.DisabledAt.IsZero() || listed.Name != "招标平台" {
		t.Fatalf("apps %+v", apps)
	}

	u, err := op.AddUser(ctx, operator.UserRequest{Name: "张三", Phone: "13800000000"})
	if err != nil || u.ID == "" || u.ActivationCode == "" || u.Name != "张三" || u.Enrolled {
		t.Fatalf("user %+v %v", u, err)
	}
	p := &phone.Client{BaseURL: ts.URL, State: &phone.State{}}
	if _, err := p.Enroll(ctx, u.ActivationCode, "test phone", "135790"); err != nil {
		t.Fatal(err)
	}
	cred, err := p.RequestCredential(ctx, "sm2", "SM2", "sign", "135790")
	if err != nil {
		t.Fatal(err)
	}
	again, err := op.NewActivationCode(ctx, u.ID)
	if err != nil || again.ActivationCode == "" || again.ActivationCode == u.ActivationCode || !again.Enrolled {
		t.Fatalf("new activation code %+v %v", again, err)
	}
	users, err := op.Users(ctx)
	if err != nil || len(users) != 1 || users[0].ID != u.ID || !users[0].Enrolled || len(users[0].Devices) != 1 {
		t.Fatalf("users %+v %v", users, err)
	}
	d, err := op.User(ctx, u.ID)
	if err != nil || d.User.ID != u.ID || len(d.Devices) != 1 || d.Devices[0].ID != p.State.DeviceID ||
		len(d.Credentials) != 1 || d.Credentials[0].ID != cred.ID || d.Credentials[0].State != "active" {
		t.Fatalf("user detail %+v %v", d, err)
	}
	if _, err := op.User(ctx, "usr_nobody"); !operator.IsCode(err, "user_not_found") {
		t.Fatalf("unknown user: %v", err)
	}

	creds, err := op.Credentials(ctx, operator.CredentialFilter{UserID: u.ID, State: "active"})
	if err != nil || len(creds) != 1 || creds[0].ID != cred.ID || creds[0].Issuer != "sm2" || creds[0].Purpose != "sign" ||
		!strings.Contains(creds[0].CertificatePEM, "BEGIN CERTIFICATE") {
		t.Fatalf("credentials %+v %v", creds, err)
	}
	if creds, err := op.Credentials(ctx, operator.CredentialFilter{State: "revoked"}); err != nil || len(creds) != 0 {
		t.Fatalf("revoked credentials before any revocation: %+v %v", creds, err)
	}
	rc, err := op.RevokeCredential(ctx, cred.ID, "superseded")
	if err != nil || rc.State != "revoked" || rc.RevocationReason != "superseded" || rc.RevokedAt.IsZero() {
		t.Fatalf("revoked credential %+v %v", rc, err)
	}
	if _, err := op.ImportCertificate(ctx, cred.ID, "not a certificate"); err == nil {
		t.Fatal("importing garbage into an active credential succeeded")
	}
	dev, err := op.RevokeDevice(ctx, p.State.DeviceID, "lost on the metro")
	if err != nil || dev.ID != p.State.DeviceID || dev.User != u.ID || dev.RevocationReason != "lost on the metro" || dev.RevokedAt.IsZero() {
		t.Fatalf("revoked device %+v %v", dev, err)
	}
	if _, err := op.RevokeDevice(ctx, p.State.DeviceID, ""); !operator.IsCode(err, "already_revoked") {
		t.Fatalf("revoke device twice: %v", err)
	}

	// The audit log, in pages of two, checked here like the CLI does.
	entries, err := op.AllAudit(ctx, operator.AuditFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	chain := make([]audit.Entry, len(entries))
	for i, e := range entries {
		if e.Actor != "gateway" { // the demo app and its webhook, registered at start
			actions = append(actions, e.Action)
		}
		chain[i] = audit.Entry(e)
	}
	// One operator's entries, within a time window.
	adminOnly, err := op.AllAudit(ctx, operator.AuditFilter{Actor: "admin", Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(adminOnly) != 10 { // the twelve above less the device's enroll and credential.create
		t.Errorf("%d entries by admin, want 10: %+v", len(adminOnly), adminOnly)
	}
	if later, err := op.AllAudit(ctx, operator.AuditFilter{Since: time.Now().Add(time.Hour)}); err != nil || len(later) != 0 {
		t.Errorf("entries from an hour on: %d %v", len(later), err)
	}
	// The listing of the users and the look at one are audited too.
	want := "issuer.add,app.add,app.rotate,app.disable,user.add,device.enroll,credential.create,user.activation,user.list,user.view,credential.revoke,device.revoke"
	if strings.Join(actions, ",") != want {
		t.Fatalf("audit actions %v, want %s", actions, want)
	}
	head, err := audit.VerifyChain(chain)
	if err != nil {
		t.Fatal(err)
	}
	v, err := op.VerifyAudit(ctx)
	if err != nil || !v.Valid || v.Entries != int64(len(entries)) || v.Head != head {
		t.Fatalf("audit verify %+v %v (local head %s)", v, err, head)
	}
	page, err := op.Audit(ctx, operator.AuditFilter{Action: "app.rotate"})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].AppID != app.ID || page.NextAfter != 0 {
		t.Fatalf("audit page %+v %v", page, err)
	}
}

// TestErrors: a wrong token, a gateway that is not there, a bad config, a
// non-JSON error page and an empty id each give their own error.
func TestErrors(t *testing.T) {
	t.Parallel()
	ts := servertest.Start(t)
	ctx := context.Background()

	_, err := (&operator.Client{BaseURL: ts.URL, Token: "wrong"}).Issuers(ctx)
	var ae *operator.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "invalid_token" || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong token: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := (&operator.Client{BaseURL: closed, Token: "x"}).Users(ctx); !errors.Is(err, operator.ErrUnreachable) {
		t.Fatalf("closed port: %v", err)
	}

	for _, c := range []operator.Client{{BaseURL: "127.0.0.1:8080", Token: "x"}, {BaseURL: ts.URL}, {BaseURL: ts.URL, Token: "a b"}} {
		if _, err := c.Apps(ctx); !errors.Is(err, operator.ErrInvalidConfig) {
			t.Fatalf("config %+v: %v", c, err)
		}
	}

	op := &operator.Client{BaseURL: ts.URL, Token: ts.AdminToken}
	if _, err := op.RotateApp(ctx, ""); !errors.Is(err, operator.ErrInvalidArgument) {
		t.Fatalf("empty id: %v", err)
	}

	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	_, err = (&operator.Client{BaseURL: proxy.URL, Token: "x"}).Issuers(ctx)
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != "" || ae.Message != "<html>bad gateway</html>" {
		t.Fatalf("error page: %#v", err)
	}
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("{not json"))
	}))
	defer garbage.Close()
	if _, err := (&operator.Client{BaseURL: garbage.URL, Token: "x"}).Issuers(ctx); !errors.Is(err, operator.ErrProtocol) {
		t.Fatalf("malformed answer: %v", err)
	}
}

// TestNoServerDeps: the client links nothing of the server (the wire
// types of package protocol, and the crypto and seal types they use, are
// not the server).
func TestNoServerDeps(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "bbolt") || strings.Contains(dep, "etcd") || strings.HasPrefix(dep, "github.com/ukeygate/ukeygate/") &&
			!slices.Contains([]string{"operator", "protocol", "crypto", "crypto/cosign", "seal"}, strings.TrimPrefix(dep, "github.com/ukeygate/ukeygate/")) {
			t.Errorf("operator links %s", dep)
		}
	}
}
