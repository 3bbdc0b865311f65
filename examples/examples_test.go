package examples_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// guard bounds each wait of this test (a failure guard, never a pause).
const guard = 60 * time.Second

// The checks each example reports, one line each ("ok NAME" or
// "FAIL NAME: why").
var checks = []string{"login-sm2", "raw-sm2", "cms-sm2", "cms-rsa", "webhook"}

// delivery is one webhook POST the receiver got.
type delivery struct {
	timestamp, signature string
	body                 []byte
}

// TestExamplesAgainstLiveGateway starts a gateway, produces every artefact
// a portal verifies (an SM2 login result, a raw SM2 signature, an SM2 CMS
// detached signature with the GM/T 0010 OIDs, an RSA CMS, a real webhook
// delivery), writes them to artefacts.properties, and runs the Java
// (BouncyCastle) and Node (sm-crypto) recipes of examples/ on it: every
// check must pass. Then it alters every artefact and runs them again:
// every check must fail.
func TestExamplesAgainstLiveGateway(t *testing.T) {
	modules := testkit.NodeModules(t)
	jars := javaClasspath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*guard)
	defer cancel()

	hooks := make(chan delivery, 64)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- delivery{r.Header.Get(protocol.HeaderWebhookTimestamp), r.Header.Get(protocol.HeaderWebhookSignature), b}
	}))
	defer receiver.Close()

	ts := servertest.Start(t, func(c *config.Config) { c.Webhook.AllowPrivate = true })
	const origin = "https://bid.example.cn"
	w := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "Examples SM2 Root"), seed.Generated("rsa", "RSA", "Examples RSA Root")},
		Apps:    []operator.AppRequest{{Name: "招标平台", Origins: []string{origin}, Webhook: &protocol.WebhookRequest{URL: receiver.URL + "/hook"}}},
		Users:   []seed.User{{Name: "张三", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Sign("rsa", "RSA")}}},
	})
	app := w.Apps[0]
	if app.Webhook == nil || app.Webhook.Secret == "" {
		t.Fatal("the app's webhook secret was not shown")
	}
	user := w.Users[0]
	pc := &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey, Origin: origin}
	complete := func(req portal.SessionRequest, cred string) *portal.Session {
		t.Helper()
		req.Display = portal.Display{Title: "示例", Summary: string(req.Kind)}
		s, err := pc.CreateSession(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := user.Phone.Scan(ctx, s.QR.Payload); err != nil {
			t.Fatal(err)
		}
		if _, err := user.Phone.Confirm(ctx, s.ID, user.Credentials[cred].ID, seed.DefaultPIN, s.Code); err != nil {
			t.Fatal(err)
		}
		got, err := pc.GetSession(ctx, s.ID)
		if err != nil || got.State != portal.StateCompleted {
			t.Fatalf("session %s: %v %v", s.ID, got, err)
		}
		return got
	}

	art := map[string][]byte{}
	add := func(k string, v []byte) { art[k] = v }
	for _, id := range []string{"sm2", "rsa"} {
		resp, err := http.Get(ts.URL + "/v1/issuers/" + id + "/ca.pem")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		add("ca."+id+".pem", b)
	}

	login := complete(portal.SessionRequest{Kind: portal.KindLogin, Issuer: "sm2"}, "sm2/sign")
	lr, err := login.Login()
	if err != nil {
		t.Fatal(err)
	}
	add("login.challenge", lr.Challenge)
	add("login.signature", lr.Signature)
	add("login.certificate_pem", []byte(lr.CertificatePEM))
	add("login.session", []byte(login.ID))
	add("login.app", []byte(app.ID))
	add("login.origin", []byte(origin))

	data := []byte("投标文件 bid document: 总价 1,234,567.89 元\n")
	raw := complete(portal.SessionRequest{Kind: portal.KindSign, Issuer: "sm2", Format: portal.FormatRaw, Documents: []portal.Document{{Name: "bid.txt", Data: data}}}, "sm2/sign")
	rr, err := raw.Sign()
	if err != nil {
		t.Fatal(err)
	}
	add("raw.data", data)
	add("raw.signature", rr.Documents[0].Signature)
	add("raw.certificate_pem", []byte(rr.CertificatePEM))

	for _, id := range []string{"sm2", "rsa"} {
		s := complete(portal.SessionRequest{Kind: portal.KindSign, Issuer: id, Format: portal.FormatCMSDetached, Documents: []portal.Document{{Name: "bid.txt", Data: data}}}, id+"/sign")
		res, err := s.Sign()
		if err != nil {
			t.Fatal(err)
		}
		add("cms_"+id+".data", data)
		add("cms_"+id+".cms", res.Documents[0].CMS)
	}

	// The webhook delivery of the login's completed event, as the
	// receiver got it.
	var hook delivery
	for hook.body == nil {
		select {
		case d := <-hooks:
			var ev protocol.WebhookEvent
			if json.Unmarshal(d.body, &ev) == nil && ev.Session == login.ID && ev.State == protocol.StateCompleted {
				hook = d
			}
		case <-ctx.Done():
			t.Fatal("no webhook delivery of the login's completed event")
		}
	}
	add("webhook.secret", []byte(app.Webhook.Secret))
	add("webhook.timestamp", []byte(hook.timestamp))
	add("webhook.signature", []byte(hook.signature))
	add("webhook.body", hook.body)

	dir := t.TempDir()
	good := filepath.Join(dir, "artefacts.properties")
	writeProps(t, good, art)
	// Every artefact altered: the signed bytes, the webhook body.
	bad := map[string][]byte{}
	for k, v := range art {
		bad[k] = v
	}
	for _, k := range []string{"raw.data", "cms_sm2.data", "cms_rsa.data"} {
		bad[k] = append(bytes.Clone(art[k]), '!')
	}
	bad["login.challenge"] = bytes.Replace(art["login.challenge"], []byte(login.ID), []byte(strings.Repeat("x", len(login.ID))), 1)
	bad["webhook.body"] = bytes.Replace(art["webhook.body"], []byte(`"completed"`), []byte(`"cancelled"`), 1)
	tampered := filepath.Join(dir, "tampered.properties")
	writeProps(t, tampered, bad)
	// Only a login's artefacts (what a backend has after one login): that
	// check runs, the others are skipped by name; nothing at all fails.
	loginOnly := map[string][]byte{}
	for k, v := range art {
		if strings.HasPrefix(k, "login.") || k == "ca.sm2.pem" {
			loginOnly[k] = v
		}
	}
	partial := filepath.Join(dir, "login.properties")
	writeProps(t, partial, loginOnly)
	empty := filepath.Join(dir, "empty.properties")
	writeProps(t, empty, nil)

	javaDir := filepath.Join(testkit.RepoRoot(t), "examples", "java")
	classes := filepath.Join(dir, "classes")
	run(t, "", "javac", "-encoding", "UTF-8", "-cp", jars, "-d", classes, filepath.Join(javaDir, "Verify.java"))
	nodeScript := filepath.Join(testkit.RepoRoot(t), "examples", "node", "verify.js")
	examples := map[string]func(file string) (string, error){
		"java": func(file string) (string, error) {
			return try("", "java", "-cp", classes+string(os.PathListSeparator)+jars, "Verify", file)
		},
		"node": func(file string) (string, error) {
			return try("NODE_PATH="+modules, "node", nodeScript, file)
		},
	}
	names := []string{"java", "node"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			out, err := examples[name](good)
			if err != nil {
				t.Fatalf("%s on the gateway's artefacts: %v\n%s", name, err, out)
			}
			for _, c := range checks {
				if !strings.Contains(out, "ok "+c+"\n") {
					t.Errorf("%s: no \"ok %s\":\n%s", name, c, out)
				}
			}
			out, err = examples[name](tampered)
			if err == nil {
				t.Fatalf("%s accepted altered artefacts:\n%s", name, out)
			}
			for _, c := range checks {
				if !strings.Contains(out, "FAIL "+c+":") {
					t.Errorf("%s: altered artefacts, no \"FAIL %s\":\n%s", name, c, out)
				}
			}
			out, err = examples[name](partial)
			if err != nil {
				t.Fatalf("%s on a login's artefacts only: %v\n%s", name, err, out)
			}
			for _, c := range checks {
				want := "skip " + c + ": no "
				if c == "login-sm2" {
					want = "ok " + c + "\n"
				}
				if !strings.Contains(out, want) {
					t.Errorf("%s: a login's artefacts only, no %q:\n%s", name, want, out)
				}
			}
			if !strings.Contains(out, "skip cms-rsa: no cms_rsa.cms, cms_rsa.data, ca.rsa.pem in ") {
				t.Errorf("%s: the skip does not name the missing keys:\n%s", name, out)
			}
			if out, err = examples[name](empty); err == nil || !strings.Contains(out, "FAIL: nothing to check") {
				t.Errorf("%s on a file without artefacts: %v\n%s", name, err, out)
			}
		})
	}
}

// writeProps writes artefacts as key=base64 lines, sorted (the format
// both examples read: java.util.Properties and a few lines of Node).
func writeProps(t *testing.T, path string, art map[string][]byte) {
	t.Helper()
	keys := make([]string, 0, len(art))
	for k := range art {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# ukeygate artefacts: each value is standard base64\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, base64.StdEncoding.EncodeToString(art[k]))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// javaClasspath returns the BouncyCastle jars of Debian's libbcprov-java
// and libbcpkix-java (and bcutil, which bcpkix 1.72 needs). Without javac
// or the jars the test is skipped, except under CI=true, where it fails.
func javaClasspath(t *testing.T) string {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("javac"); err != nil {
		missing = append(missing, "javac (apt-get install default-jdk-headless)")
	}
	var jars []string
	for _, j := range []string{"bcprov", "bcpkix", "bcutil"} {
		p := "/usr/share/java/" + j + ".jar"
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p+" (apt-get install libbcprov-java libbcpkix-java)")
			continue
		}
		jars = append(jars, p)
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("required when CI=true: %s", strings.Join(missing, ", "))
		}
		t.Skipf("not installed: %s", strings.Join(missing, ", "))
	}
	return strings.Join(jars, string(os.PathListSeparator))
}

// run runs a command and fails the test on error.
func run(t *testing.T, env string, name string, args ...string) string {
	t.Helper()
	out, err := try(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// try runs a command (with env added, "" for none) under the guard and
// returns its combined output.
func try(env string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*guard)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = os.Environ()
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
