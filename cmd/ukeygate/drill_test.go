package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
)

const drillPIN = "135790"

// drill is a serving node (a real process) with what the restore drill
// and the key-rotation test create on it.
type drill struct {
	t      *testing.T
	dir    string
	token  string
	base   string
	proc   *proc
	app    *portal.Client
	phones []*phone.Client
	creds  []drillCred
	// revoked is the serial of a revoked credential, by issuer.
	revoked map[string]string
	issuer  map[string]string // certificate PEM by issuer id
}

type drillCred struct {
	phone int
	cred  *phone.Credential
}

func (d *drill) env(extra ...string) []string {
	return testEnv(append([]string{"UKEYGATE_DATA_DIR=" + d.dir, "UKEYGATE_ADMIN_TOKEN=" + d.token,
		"UKEYGATE_LISTEN=127.0.0.1:0", "UKEYGATE_LOG_FORMAT=json", "UKEYGATE_DEMO=false",
		// The load comes from one loopback address; the budgets have their own tests.
		"UKEYGATE_RATE_LIMIT_ENABLED=false"}, extra...)...)
}

// serve starts `ukeygate serve` on d.dir and points the clients at it.
func (d *drill) serve(extra ...string) {
	d.t.Helper()
	d.proc = startProc(d.t, d.env(extra...), "serve")
	d.base = "http://" + d.proc.waitListening(d.t)
	if d.app != nil {
		d.app.BaseURL = d.base
	}
	for _, p := range d.phones {
		p.BaseURL = d.base
	}
}

func (d *drill) stop() {
	d.t.Helper()
	_ = d.proc.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.proc.wait(d.t); code != 0 {
		d.t.Fatalf("serve exited %d\n%s", code, d.proc.stderr)
	}
}

func (d *drill) admin(method, path string, body, out any) {
	d.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, d.base+path, bytes.NewReader(b))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		d.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			d.t.Fatal(err)
		}
	}
}

// newDrill serves a fresh data dir holding two internal issuers (SM2, RSA),
// an app, two users with a signing credential of each algorithm, one
// revoked credential per issuer, and one signature per credential.
//
// The world is made once per test run (the first test that asks makes it,
// then stops its server); each test gets a copy of its data dir, served by
// a process of its own, and of its clients.
func newDrill(t *testing.T) *drill {
	t.Helper()
	seed.once.Do(func() {
		// Made in a folder of the run, not of the first test (whose
		// temporary folders go when it ends).
		seed.dir, seed.err = os.MkdirTemp("", "ukeygate-drill-")
		if seed.err != nil {
			return
		}
		// A step that fails ends this test (t.Fatal) and leaves this
		// error for the others.
		seed.err = fmt.Errorf("making it failed in %s", t.Name())
		seed.d, seed.err = makeDrill(t, filepath.Join(seed.dir, "data"))
	})
	if seed.err != nil {
		t.Fatalf("the drill world: %v", seed.err)
	}
	s := seed.d
	d := &drill{t: t, dir: filepath.Join(t.TempDir(), "data"), token: s.token, revoked: map[string]string{}, issuer: map[string]string{},
		creds: s.creds}
	if err := copyDir(s.dir, d.dir); err != nil {
		t.Fatal(err)
	}
	maps.Copy(d.revoked, s.revoked)
	maps.Copy(d.issuer, s.issuer)
	app := *s.app
	d.app = &app
	for _, p := range s.phones {
		st := *p.State
		d.phones = append(d.phones, &phone.Client{State: &st, HTTP: &http.Client{Timeout: guard}})
	}
	d.serve()
	return d
}

// seed is the drill world of the test run (newDrill).
var seed struct {
	once sync.Once
	dir  string // removed by TestMain
	d    *drill
	err  error
}

// copyDir copies the files of a data dir (no subfolders), keeping their
// modes.
func copyDir(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("copy %s: %s is not a plain file", from, e.Name())
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// makeDrill seeds a fresh data dir at dir (see newDrill) and stops its
// server. A failed step ends t's test (t.Fatal).
func makeDrill(t *testing.T, dir string) (*drill, error) {
	p := startProc(t, testEnv("UKEYGATE_DATA_DIR="+dir), "init")
	if code := p.wait(t); code != 0 {
		return nil, fmt.Errorf("init: exit %d\n%s", code, p.stderr)
	}
	d := &drill{t: t, dir: dir, token: "drill-admin-token-0123456789", revoked: map[string]string{}, issuer: map[string]string{}}
	d.serve()
	for _, alg := range []string{"SM2", "RSA"} {
		var iss struct {
			CertificatePEM string `json:"certificate_pem"`
		}
		id := strings.ToLower(alg)
		d.admin("POST", "/v1/admin/issuers", map[string]any{"id": id, "name": alg + " CA", "mode": "internal", "alg": alg,
			"generate": true, "subject": map[string]string{"common_name": "drill " + alg, "organization": "ukeygate", "country": "CN"}}, &iss)
		d.issuer[id] = iss.CertificatePEM
	}
	var app struct {
		APIKey string `json:"api_key"`
	}
	d.admin("POST", "/v1/admin/apps", map[string]any{"name": "drill portal", "origins": []string{"https://bid.example.cn"}}, &app)
	d.app = &portal.Client{BaseURL: d.base, AppKey: app.APIKey, Origin: "https://bid.example.cn"}
	ctx := context.Background()
	for i, name := range []string{"张三", "李四", "王五"} {
		var u struct {
			ActivationCode string `json:"activation_code"`
		}
		d.admin("POST", "/v1/admin/users", map[string]string{"name": name}, &u)
		p := &phone.Client{BaseURL: d.base, State: &phone.State{}, HTTP: &http.Client{Timeout: guard}}
		if _, err := p.Enroll(ctx, u.ActivationCode, name+"'s phone", drillPIN); err != nil {
			t.Fatal(err)
		}
		d.phones = append(d.phones, p)
		for _, alg := range []string{"SM2", "RSA"} {
			c, err := p.RequestCredential(ctx, strings.ToLower(alg), alg, "sign", drillPIN)
			if err != nil || c.State != "active" {
				t.Fatalf("credential: %+v, %v", c, err)
			}
			if i == 2 { // the third user's credentials are revoked
				d.admin("POST", "/v1/admin/credentials/"+c.ID+"/revoke", map[string]string{"reason": "keyCompromise"}, nil)
				d.revoked[c.Issuer] = c.Serial
				continue
			}
			d.creds = append(d.creds, drillCred{phone: i, cred: c})
		}
	}
	for _, c := range d.creds {
		if err := d.sign(c, "before"); err != nil {
			t.Fatal(err)
		}
	}
	d.stop()
	return d, nil
}

// sign runs one sign session with c and its PIN and checks the signature
// with the gateway's verify.
func (d *drill) sign(c drillCred, text string) error {
	_, err := d.signSession(c, text)
	return err
}

// signSession is sign, returning the session id.
func (d *drill) signSession(c drillCred, text string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	data := []byte("投标文件 " + text + " " + c.cred.ID)
	s, err := d.app.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindSign, Issuer: c.cred.Issuer, Alg: c.cred.Alg,
		User: c.cred.User, Format: portal.FormatRaw, Documents: []portal.Document{{Name: "bid.txt", Data: data}},
		Display: portal.Display{Title: "drill", Summary: text}})
	if err != nil {
		return "", err
	}
	p := d.phones[c.phone]
	if _, err := p.Scan(ctx, s.QR.Payload); err != nil {
		return "", fmt.Errorf("scan: %w", err)
	}
	if state, err := p.Confirm(ctx, s.ID, c.cred.ID, drillPIN, s.Code); err != nil || state != portal.StateCompleted {
		return "", fmt.Errorf("confirm with %s: %q, %v", c.cred.ID, state, err)
	}
	got, err := d.app.GetSession(ctx, s.ID)
	if err != nil {
		return "", err
	}
	ev := portal.Event{State: got.State, Result: got.Result}
	res, err := ev.Sign()
	if err != nil || len(res.Documents) != 1 {
		return "", fmt.Errorf("result %+v, %v", res, err)
	}
	v, err := d.app.Verify(ctx, portal.VerifyRequest{Data: data, Signature: res.Documents[0].Signature, CertificatePEM: c.cred.CertificatePEM})
	if err != nil || !v.Valid || v.Signer == nil || v.Signer.Serial != c.cred.Serial {
		return "", fmt.Errorf("verify of %s: %+v, %v", c.cred.ID, v, err)
	}
	return s.ID, nil
}

// check signs with every credential and its PIN, checks each issuer's CRL
// (signature and the revoked serial) and runs `ukeygate audit verify`.
func (d *drill) check(label string) {
	d.t.Helper()
	for _, c := range d.creds {
		if err := d.sign(c, label); err != nil {
			d.t.Fatalf("%s: %v", label, err)
		}
	}
	for iss, serial := range d.revoked {
		resp, err := http.Get(d.base + "/v1/issuers/" + iss + "/crl")
		if err != nil {
			d.t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			d.t.Fatalf("%s: CRL of %s: %d", label, iss, resp.StatusCode)
		}
		if b, _ := pem.Decode(der); b != nil {
			der = b.Bytes
		}
		blk, _ := pem.Decode([]byte(d.issuer[iss]))
		crl, err := smx509.ParseRevocationList(der)
		if err != nil {
			d.t.Fatalf("%s: CRL of %s: %v", label, iss, err)
		}
		ca, err := smx509.ParseCertificate(blk.Bytes)
		if err != nil {
			d.t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(ca); err != nil {
			d.t.Fatalf("%s: CRL of %s does not verify: %v", label, iss, err)
		}
		found := false
		for _, e := range crl.RevokedCertificateEntries {
			found = found || fmt.Sprintf("%x", e.SerialNumber) == strings.ToLower(strings.ReplaceAll(serial, ":", ""))
		}
		if !found {
			d.t.Fatalf("%s: CRL of %s lacks the revoked serial %s", label, iss, serial)
		}
	}
	if out, err := exec.Command(binary(d.t), "audit", "verify", "--server", d.base, "--admin-token", d.token).CombinedOutput(); err != nil {
		d.t.Fatalf("%s: audit verify: %v\n%s", label, err, out)
	}
}

var _ = x509.ParseCertificate // the CRL check uses smx509, which reads RSA and SM2 alike

// TestRestoreDrill: serve, create issuers, users, credentials, sessions and
// audit entries; back up (a real `ukeygate backup` process) while sessions
// keep being signed; restore into a new data dir; serve it; every
// credential still signs with its PIN, the CRLs and audit verify pass.
func TestRestoreDrill(t *testing.T) {
	t.Parallel()
	d := newDrill(t)

	// Bounded load during the backup: sign sessions until the backup is
	// written (at most 200).
	var stop atomic.Bool
	var wg sync.WaitGroup
	var signed atomic.Int64
	loadErr := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 100; i++ {
				if err := d.sign(d.creds[(w+i)%len(d.creds)], fmt.Sprintf("load %d", i)); err != nil {
					loadErr <- err
					return
				}
				signed.Add(1)
			}
		}()
	}
	out := filepath.Join(t.TempDir(), "ukeygate.backup")
	bk, err := exec.Command(binary(t), "backup", "--out", out, "--server", d.base, "--admin-token", d.token).CombinedOutput()
	stop.Store(true)
	wg.Wait()
	close(loadErr)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, bk)
	}
	for err := range loadErr {
		t.Fatalf("load: %v", err)
	}
	t.Logf("%s(%d sessions signed during the backup)", bk, signed.Load())
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if b, err := exec.Command(binary(t), "backup", "--out", out, "--server", d.base, "--admin-token", d.token).CombinedOutput(); err == nil {
		t.Fatalf("a second backup over the same file was accepted:\n%s", b)
	}
	// The audit log says who took the backup and how big it was (the
	// refused second one never reached the gateway).
	var page operator.AuditPage
	if _, err := (&operator.Client{BaseURL: d.base, Token: d.token}).Do(context.Background(), "GET", "/v1/admin/audit?action=backup.export", nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Actor != "admin" || page.Entries[0].Outcome != "ok" ||
		page.Entries[0].Detail != fmt.Sprintf("bytes=%d", fi.Size()) {
		t.Fatalf("backup.export entries %+v, want one of %d bytes", page.Entries, fi.Size())
	}
	d.stop()

	// Restore into a new data dir. Without the master key there it is
	// refused, naming the key, and writes nothing (the restore's audit
	// entry is sealed under that key).
	newDir := filepath.Join(t.TempDir(), "restored")
	if err := os.MkdirAll(newDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(d.dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := verifyBackupFile(out)
	if err != nil {
		t.Fatal(err)
	}
	old := d.dir
	d.dir = newDir
	restore := func() ([]byte, error) {
		c := exec.Command(binary(t), "restore", "--in", out)
		c.Env = d.env()
		return c.CombinedOutput()
	}
	if b, err := restore(); err == nil || !strings.Contains(string(b), "install master key "+sum.KeyID) {
		t.Fatalf("restore without the master key: %v\n%s", err, b)
	}
	if left, err := os.ReadDir(newDir); err != nil || len(left) != 0 {
		t.Fatalf("a refused restore left %v in the data dir (%v)", left, err)
	}
	// With the key: restored, and recorded.
	if err := os.WriteFile(filepath.Join(newDir, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := restore()
	if err != nil || !strings.Contains(string(b), "recorded as audit entry ") {
		t.Fatalf("restore: %v\n%s", err, b)
	}
	t.Logf("%s", b)
	if b, err := restore(); err == nil || !strings.Contains(string(b), "not empty") {
		t.Fatalf("restore into a non-empty data dir: %v\n%s", err, b)
	}
	// A damaged backup is refused before anything is written.
	bad := filepath.Join(t.TempDir(), "bad.backup")
	raw, _ := os.ReadFile(out)
	raw[len(raw)/2] ^= 1
	if err := os.WriteFile(bad, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(binary(t), "restore", "--in", bad)
	c.Env = testEnv("UKEYGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "x"))
	if b, err := c.CombinedOutput(); err == nil || !strings.Contains(string(b), "intact") {
		t.Fatalf("restore of a damaged file: %v\n%s", err, b)
	}
	d.serve()
	d.check("after restore") // audit verify passes, the restore's entry included
	if old == d.dir {
		t.Fatal("served the old dir")
	}
	// The restored log says who restored which backup, once (the refused
	// second restore wrote nothing), right after the restored entries.
	oc := &operator.Client{BaseURL: d.base, Token: d.token}
	if _, err := oc.Do(context.Background(), "GET", "/v1/admin/audit?action=backup.restore", nil, &page); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	wantDetail := fmt.Sprintf("store=%s backup_created=%s revision=%d keys=%d ", sum.StoreID, sum.CreatedAt.Format(time.RFC3339), sum.Revision, sum.Records)
	if len(page.Entries) != 1 || page.Entries[0].Actor != "operator" || page.Entries[0].Outcome != "ok" ||
		!strings.HasPrefix(page.Entries[0].Detail, wantDetail) || !strings.Contains(page.Entries[0].Detail, " sm3="+sum.SM3) ||
		!strings.Contains(page.Entries[0].Detail, " by="+me.Username+"@"+host) {
		t.Fatalf("backup.restore entries %+v, want one by %s@%s with detail %s…", page.Entries, me.Username, host, wantDetail)
	}
	rec := page.Entries[0]
	var around operator.AuditPage
	if _, err := oc.Do(context.Background(), "GET", fmt.Sprintf("/v1/admin/audit?after=%d&limit=2", rec.Seq-2), nil, &around); err != nil {
		t.Fatal(err)
	}
	if len(around.Entries) != 2 || around.Entries[1].Seq != rec.Seq || around.Entries[1].Prev != around.Entries[0].Hash ||
		around.Entries[0].Action == "backup.restore" || around.Entries[0].Time.After(sum.CreatedAt.Add(time.Second)) {
		t.Fatalf("the restore entry does not follow the restored entries: %+v", around.Entries)
	}
	d.stop()
}

// rotateUntilKilled starts `master-key rotate` with one value per
// transaction and kills it (SIGKILL) once it has reported `after` more
// batches; it reports whether the process was killed before it finished.
func (d *drill) rotateUntilKilled(newKey string, after int) bool {
	d.t.Helper()
	p := startProc(d.t, d.env(), "master-key", "rotate", "--new-key-file", newKey, "--batch", "1")
	seen := 0
	for seen < after {
		select {
		case line := <-p.lines:
			if strings.HasPrefix(line, "re-sealed ") {
				seen++
			}
		case <-p.exited:
			if p.err != nil {
				d.t.Fatalf("rotate failed: %v\n%s", p.err, p.stderr)
			}
			return false
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	return p.err != nil
}

// serveRefused starts serve with extra env and wants it to exit non-zero
// saying want.
func (d *drill) serveRefused(want string, extra ...string) {
	d.t.Helper()
	p := startProc(d.t, d.env(extra...), "serve")
	if code := p.wait(d.t); code == 0 || !strings.Contains(p.stderr.String(), want) {
		d.t.Fatalf("serve with %v: exit %d, want a refusal saying %q\n%s", extra, code, want, p.stderr)
	}
}

// TestMasterKeyRotationKill9: rotate the master key of a real store, kill
// -9 the rotating process twice mid-way (serve refuses both keys then),
// resume, and afterwards the old key is refused while with the new one
// every credential signs with its PIN, a CA issues, a result sealed
// before the rotation still reads, and the audit log verifies and records
// the rotation.
func TestMasterKeyRotationKill9(t *testing.T) {
	t.Parallel()
	d := newDrill(t)
	before, err := d.signSession(d.creds[0], "sealed before the rotation")
	if err != nil {
		t.Fatal(err)
	}
	d.stop()
	newKey := filepath.Join(t.TempDir(), "new.key")
	if b, err := exec.Command(binary(t), "master-key", "generate", "--out", newKey).CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, b)
	}
	useNew := "UKEYGATE_MASTER_KEY_FILE=" + newKey
	killed := 0
	for round, after := range []int{1, 5} {
		if d.rotateUntilKilled(newKey, after) {
			killed++
			d.serveRefused("rotation")
			d.serveRefused("rotation", useNew)
		} else {
			t.Logf("round %d: the rotation finished before the kill", round)
		}
	}
	if killed == 0 {
		t.Fatal("no rotation was interrupted: the test checked nothing")
	}
	c := exec.Command(binary(t), "master-key", "rotate", "--new-key-file", newKey)
	c.Env = d.env()
	if b, err := c.CombinedOutput(); err != nil || !strings.Contains(string(b), "rotated") {
		t.Fatalf("resume: %v\n%s", err, b)
	}
	d.serveRefused("sealed under master key")

	d.serve(useNew)
	d.check("after rotation")
	ctx := context.Background()
	got, err := d.app.GetSession(ctx, before)
	if err != nil || got.State != portal.StateCompleted || len(got.Result) == 0 {
		t.Fatalf("session sealed before the rotation: %+v, %v", got, err)
	}
	c2, err := d.phones[1].RequestCredential(ctx, "sm2", "SM2", "encrypt", drillPIN)
	if err != nil || c2.State != "active" {
		t.Fatalf("issuing after the rotation: %+v, %v", c2, err)
	}
	var entries struct {
		Entries []struct {
			Action string `json:"action"`
		} `json:"entries"`
	}
	d.admin("GET", "/v1/admin/audit?action=master_key.rotate", nil, &entries)
	if len(entries.Entries) == 0 {
		t.Fatal("the rotation is not in the audit log")
	}
	d.stop()
}
