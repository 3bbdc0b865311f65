package privacy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/sealimage"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/vault"
)

const (
	origin = "https://bid.example.cn"
	guard  = 2 * time.Minute
)

// world is a gateway with two users: the one who deletes their account
// (with a signing and an encryption certificate naming their ID number
// and phone, a seal and a completed login session) and one who stays.
type world struct {
	ts          *servertest.TS
	w           *seed.World
	gone, stays *seed.EnrolledUser
	// personal are the personal fields of the user who leaves, as they
	// would lie in the store: name, ID number, phone, device name and
	// key, certificate subjects, ids.
	personal map[string][]byte
	deviceID string
}

func makeWorld(t *testing.T, mutate ...func(*config.Config)) *world {
	t.Helper()
	// The app has a webhook: the outbox keeps each session event (a
	// completed login holds the certificate) for webhook.retention.
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	t.Cleanup(sink.Close)
	mutate = append([]func(*config.Config){func(c *config.Config) { c.Demo, c.Webhook.AllowPrivate = false, true }}, mutate...)
	ts := servertest.Start(t, mutate...)
	iss := seed.Generated("sm2", "SM2", "Privacy Test SM2 CA")
	iss.Profile.SubjectFields = []string{"id_number", "phone"}
	// Encryption keys are escrowed: the escrow copy must go with the
	// account too.
	iss.Profile.Escrow = true
	initEscrow(t, ts)
	w := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Apps:    []operator.AppRequest{{Name: "招标平台", Origins: []string{origin}, Webhook: &operator.WebhookRequest{URL: sink.URL + "/hook"}}},
		Users: []seed.User{
			{Name: "欧阳明月", Phone: "13912345678", IDNumber: "11010519491231002X", DeviceName: "欧阳明月的华为手机",
				Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}},
			{Name: "李留守", Phone: "13800000001", IDNumber: "110105194912310011", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
		},
	})
	wd := &world{ts: ts, w: w, gone: w.Users[0], stays: w.Users[1]}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()

	pic, err := sealimage.Square("欧阳明月", 200)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Op.AddSeal(ctx, operator.SealRequest{Owner: wd.gone.ID, Name: "欧阳明月印", Kind: "personal", ImagePNG: pic, WidthMM: 20, HeightMM: 20}); err != nil {
		t.Fatal(err)
	}
	// A completed login: its stored result holds the certificate.
	pc := &portal.Client{BaseURL: ts.URL, AppKey: w.Apps[0].APIKey, Origin: origin}
	s, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Origin: origin, Display: portal.Display{Title: "登录", Summary: "privacy"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wd.gone.Phone.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if st, err := wd.gone.Phone.Confirm(ctx, s.ID, wd.gone.Credentials["sm2/sign"].ID, w.PIN, s.Code); err != nil || st != portal.StateCompleted {
		t.Fatalf("login: %s %v", st, err)
	}

	wd.deviceID = wd.gone.Phone.State.DeviceID
	wd.personal = map[string][]byte{
		"name":        []byte("欧阳明月"),
		"id number":   []byte("11010519491231002X"),
		"phone":       []byte("13912345678"),
		"device name": []byte("欧阳明月的华为手机"),
		"user id":     []byte(wd.gone.ID),
		"device id":   []byte(wd.deviceID),
	}
	det, err := w.Op.User(ctx, wd.gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range det.Devices {
		blk, _ := pem.Decode([]byte(d.PublicKeyPEM))
		wd.personal["device key (DER)"] = blk.Bytes
		wd.personal["device key (base64)"] = []byte(base64.StdEncoding.EncodeToString(blk.Bytes)[:40])
	}
	for _, c := range det.Credentials {
		if c.Purpose == "encrypt" {
			wd.personal["escrow copy"] = escrowCopy(t, ts, c.ID)
		}
		blk, _ := pem.Decode([]byte(c.CertificatePEM))
		cert, err := smx509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		wd.personal["certificate subject "+c.Purpose] = cert.RawSubject
		wd.personal["certificate "+c.Purpose] = blk.Bytes[:64]
	}
	return wd
}

// initEscrow makes the escrow key with two named operators as custodians.
func initEscrow(t *testing.T, ts *servertest.TS) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	op := &operator.Client{BaseURL: ts.URL, Token: ts.AdminToken}
	var custodians []protocol.EscrowCustodianRequest
	for _, name := range []string{"custodian-a", "custodian-b"} {
		if _, err := op.Do(ctx, http.MethodPost, "/v1/admin/operators", protocol.OperatorRequest{Name: name}, nil); err != nil {
			t.Fatal(err)
		}
		custodians = append(custodians, protocol.EscrowCustodianRequest{Name: name, Passphrase: "passphrase of " + name})
	}
	if _, err := op.Do(ctx, http.MethodPost, "/v1/admin/escrow", protocol.EscrowInitRequest{Custodians: custodians, Iterations: 4096}, nil); err != nil {
		t.Fatal(err)
	}
}

// escrowCopy reads the first 64 bytes of a credential's escrow copy from
// the store.
func escrowCopy(t *testing.T, ts *servertest.TS, credID string) []byte {
	t.Helper()
	kv, err := ts.Server.Store().Get(context.Background(), "credentials/"+credID)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Escrow []byte `json:"escrow"`
	}
	if err := json.Unmarshal(kv.Value, &rec); err != nil || len(rec.Escrow) < 64 {
		t.Fatalf("credential %s has no escrow copy (%v)", credID, err)
	}
	return rec.Escrow[:64]
}

// findPersonal returns the names of the personal fields found in b.
func (wd *world) findPersonal(b []byte) []string {
	var found []string
	for name, v := range wd.personal {
		if bytes.Contains(b, v) {
			found = append(found, name)
		}
	}
	return found
}

// expand returns b followed by what its JSON strings hold in binary: the
// records keep keys, certificates and seals as base64 (or PEM) inside
// JSON, where a byte search would not see them.
func expand(b []byte) []byte {
	out := append([]byte{}, b...)
	var v any
	if json.Unmarshal(b, &v) != nil {
		return out
	}
	var walk func(v any)
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
			if d, err := base64.StdEncoding.DecodeString(x); err == nil {
				out = append(append(out, '\n'), d...)
			}
			for rest := []byte(x); ; {
				var blk *pem.Block
				if blk, rest = pem.Decode(rest); blk == nil {
					break
				}
				out = append(append(out, '\n'), blk.Bytes...)
			}
		}
	}
	walk(v)
	return out
}

// liveDump is every live key and value of the store, values opened with
// the master key: what anyone holding the store and the key reads.
func liveDump(t *testing.T, st storage.Store) []byte {
	t.Helper()
	kvs, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, kv := range kvs {
		buf.WriteString(kv.Key + "\n")
		buf.Write(expand(kv.Value))
		buf.WriteString("\n")
	}
	return buf.Bytes()
}

func TestExportAndDeleteOnBolt(t *testing.T) {
	wd := makeWorld(t)
	before := liveDump(t, wd.ts.Server.Store())
	if found := wd.findPersonal(before); len(found) != len(wd.personal) {
		t.Fatalf("the dump before the deletion finds only %v of %d fields: the dump cannot see them", found, len(wd.personal))
	}
	checkExport(t, wd)
	checkRefusals(t, wd)
	revoked := deleteAccount(t, wd)
	checkAfter(t, wd, revoked)

	if dump := liveDump(t, wd.ts.Server.Store()); len(wd.findPersonal(dump)) > 0 {
		for _, line := range bytes.Split(dump, []byte("\n")) {
			if found := wd.findPersonal(line); len(found) > 0 {
				t.Errorf("%v in: %.300s", found, line)
			}
		}
		t.Fatalf("after the deletion the store still holds %v", wd.findPersonal(dump))
	}
	// The raw file: bbolt keeps freed pages with old values (and keys in
	// clear) until they are reused (without the rewrite a "users/ID" key
	// was seen left in about one run out of two); the deletion rewrote the
	// file, so only live keys remain.
	path := wd.ts.Config.BoltPath()
	wd.ts.Stop()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if found := wd.findPersonal(raw); len(found) > 0 {
		t.Fatalf("the raw data file still holds %v", found)
	}
	for _, k := range []string{"users/" + wd.gone.ID, "devices/" + wd.deviceID, "usercreds/" + wd.gone.ID} {
		if bytes.Contains(raw, []byte(k)) {
			t.Fatalf("the raw data file still holds the key %s", k)
		}
	}
}

// checkExport: the user's export and the operator's copy hold every
// personal record.
func checkExport(t *testing.T, wd *world) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	mine, err := wd.gone.Phone.MyData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mine.User == nil || mine.User.ID != wd.gone.ID || mine.User.Name != "欧阳明月" || mine.User.IDNumber != "11010519491231002X" || mine.User.Phone != "13912345678" {
		t.Fatalf("export user: %+v", mine.User)
	}
	if len(mine.Devices) != 1 || mine.Devices[0].ID != wd.deviceID || mine.Devices[0].PublicKeyPEM == "" || mine.Devices[0].Name != "欧阳明月的华为手机" {
		t.Fatalf("export devices: %+v", mine.Devices)
	}
	if len(mine.Credentials) != 2 || mine.Credentials[0].CertificatePEM == "" {
		t.Fatalf("export credentials: %+v", mine.Credentials)
	}
	for _, c := range mine.Credentials {
		// The export says an escrow copy exists, never its bytes.
		if c.Escrowed != (c.Purpose == "encrypt") {
			t.Fatalf("export credential %s (%s): escrowed %v", c.ID, c.Purpose, c.Escrowed)
		}
	}
	if raw, _ := json.Marshal(mine); bytes.Contains(expand(raw), wd.personal["escrow copy"]) {
		t.Fatal("the export holds the escrow copy's bytes")
	}
	if len(mine.Seals) != 1 || mine.Seals[0].Name != "欧阳明月印" || len(mine.Seals[0].SESSeal) == 0 {
		t.Fatalf("export seals: %+v", mine.Seals)
	}
	if len(mine.Sessions) != 1 || mine.Sessions[0].State != protocol.StateCompleted || mine.Sessions[0].Device != wd.deviceID || mine.Sessions[0].App != wd.w.Apps[0].ID {
		t.Fatalf("export sessions: %+v", mine.Sessions)
	}
	actions := map[string]int{}
	for _, e := range mine.Audit {
		if e.UserID != wd.gone.ID && e.Actor != "device:"+wd.deviceID {
			t.Fatalf("export holds another user's entry: %+v", e)
		}
		actions[e.Action]++
	}
	for _, a := range []string{"user.add", "device.enroll", "credential.create", "login", "seal.add"} {
		if actions[a] == 0 {
			t.Fatalf("export audit has no %s: %v", a, actions)
		}
	}
	theirs, err := wd.w.Op.UserData(ctx, wd.gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if theirs.User.Name != mine.User.Name || len(theirs.Credentials) != 2 || len(theirs.Audit) < len(mine.Audit) {
		t.Fatalf("operator's export: %+v", theirs)
	}
	page, err := wd.w.Op.Audit(ctx, operator.AuditFilter{Action: "user.data"})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].UserID != wd.gone.ID {
		t.Fatalf("the operator's export is not audited: %+v %v", page, err)
	}
	if _, err := wd.w.Op.UserData(ctx, "usr_nobody"); protocol.ErrorCode(err) != protocol.CodeUserNotFound {
		t.Fatalf("unknown user: %v", err)
	}
}

// recorder keeps the last request a phone client sent (to replay it).
type recorder struct {
	last *http.Request
	body []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		r.body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(r.body))
	}
	r.last = req.Clone(req.Context())
	return http.DefaultTransport.RoundTrip(req)
}

// checkRefusals: unsigned, wrong PIN, replayed and locked deletions are
// refused and change nothing.
func checkRefusals(t *testing.T, wd *world) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	// Unsigned.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, wd.ts.URL+"/v1/me", strings.NewReader(`{"pin":"`+wd.w.PIN+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned DELETE /v1/me: %d", resp.StatusCode)
	}
	// Wrong PIN, through a recording client; then the same signed request
	// again (a replay).
	rec := &recorder{}
	ph := *wd.gone.Phone
	ph.HTTP = &http.Client{Transport: rec}
	if _, err := ph.DeleteAccount(ctx, "000000"); protocol.ErrorCode(err) != protocol.CodeWrongPIN {
		t.Fatalf("wrong PIN: %v", err)
	}
	replay := rec.last.Clone(ctx)
	replay.Body = io.NopCloser(bytes.NewReader(rec.body))
	replay.RequestURI = ""
	resp, err = http.DefaultClient.Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(raw, []byte(protocol.CodeReplayedNonce)) {
		t.Fatalf("replayed DELETE /v1/me: %d %s", resp.StatusCode, raw)
	}
	// Malformed bodies.
	for _, body := range []any{map[string]any{}, map[string]any{"pin": 5}, map[string]any{"pin": wd.w.PIN, "extra": 1}, map[string]any{"pin": strings.Repeat("1", 5000)}} {
		if err := wd.gone.Phone.Do(ctx, http.MethodDelete, "/v1/me", body, nil); err == nil {
			t.Fatalf("body %v accepted", body)
		}
	}
	// The one who stays is locked out by wrong PINs: the right PIN is
	// refused while the lock lasts.
	for i := 0; ; i++ {
		_, err := wd.stays.Phone.DeleteAccount(ctx, "000000")
		if protocol.ErrorCode(err) == protocol.CodePINLocked {
			break
		}
		if protocol.ErrorCode(err) != protocol.CodeWrongPIN || i > 10 {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	if _, err := wd.stays.Phone.DeleteAccount(ctx, wd.w.PIN); protocol.ErrorCode(err) != protocol.CodePINLocked {
		t.Fatalf("right PIN while locked: %v", err)
	}
	// Nothing changed for either.
	for _, u := range []*seed.EnrolledUser{wd.gone, wd.stays} {
		d, err := wd.w.Op.User(ctx, u.ID)
		if err != nil || len(d.Devices) != 1 || d.Devices[0].RevokedAt != (time.Time{}) {
			t.Fatalf("after refusals %s: %+v %v", u.Name, d, err)
		}
		for _, c := range d.Credentials {
			if c.State != "active" {
				t.Fatalf("after refusals %s: credential %s is %s", u.Name, c.ID, c.State)
			}
		}
	}
}

// deleteAccount deletes the account and returns the serials revoked.
func deleteAccount(t *testing.T, wd *world) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	out, err := wd.gone.Phone.DeleteAccount(ctx, wd.w.PIN)
	if err != nil {
		t.Fatal(err)
	}
	if out.User != wd.gone.ID || len(out.Revoked) != 2 || out.Credentials != 2 || out.Seals != 1 || out.Devices != 1 ||
		out.Sessions != 1 || out.Deliveries != 3 || out.AuditErased == 0 || out.AuditLegacy != 0 || !strings.HasPrefix(out.Pseudonym, "anon_") || !out.Compacted ||
		len(out.DeviceIDs) != 1 || out.DeviceIDs[0] != wd.deviceID {
		t.Fatalf("deletion: %+v", out)
	}
	return out.Revoked
}

// checkAfter: the user and device are gone, the CRL lists the revoked
// certificates, the audit log verifies and no longer names the user.
func checkAfter(t *testing.T, wd *world, revoked []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if _, err := wd.gone.Phone.MyData(ctx); protocol.ErrorCode(err) != protocol.CodeUnknownDevice {
		t.Fatalf("the deleted user's phone: %v", err)
	}
	if _, err := wd.gone.Phone.DeleteAccount(ctx, wd.w.PIN); protocol.ErrorCode(err) != protocol.CodeUnknownDevice {
		t.Fatalf("a second deletion: %v", err)
	}
	if _, err := wd.w.Op.User(ctx, wd.gone.ID); protocol.ErrorCode(err) != protocol.CodeUserNotFound {
		t.Fatalf("operator's view of the deleted user: %v", err)
	}
	if _, err := wd.w.Op.UserData(ctx, wd.gone.ID); protocol.ErrorCode(err) != protocol.CodeUserNotFound {
		t.Fatalf("operator's export of the deleted user: %v", err)
	}
	if d, err := wd.w.Op.User(ctx, wd.stays.ID); err != nil || len(d.Credentials) != 1 || d.Credentials[0].State != "active" {
		t.Fatalf("the user who stays: %+v %v", d, err)
	}
	resp, err := http.Get(wd.ts.URL + "/v1/issuers/sm2/crl")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	crl, err := smx509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	for _, e := range crl.RevokedCertificateEntries {
		listed["sm2/"+e.SerialNumber.Text(16)] = e.ReasonCode
	}
	for _, r := range revoked {
		if code, ok := listed[r]; !ok || code != 5 {
			t.Fatalf("CRL %v does not list %s as cessationOfOperation", listed, r)
		}
	}
	v, err := wd.w.Op.VerifyAudit(ctx)
	if err != nil || !v.Valid {
		t.Fatalf("audit verify: %+v %v", v, err)
	}
	page, err := wd.w.Op.Audit(ctx, operator.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	pseudonymised := 0
	for _, e := range page.Entries {
		if e.UserID == wd.gone.ID || e.Actor == "device:"+wd.deviceID {
			t.Fatalf("entry %d still names the deleted user: %+v", e.Seq, e)
		}
		if strings.HasPrefix(e.UserID, "anon_") {
			pseudonymised++
		}
	}
	if pseudonymised == 0 {
		t.Fatal("no pseudonymised entry")
	}
}

func TestDeleteOnEtcdLeavesNoOldRevision(t *testing.T) {
	endpoint := servertest.StartEtcd(t)
	for _, compact := range []bool{true, false} {
		name := "compact"
		if !compact {
			name = "no compaction (control)"
		}
		t.Run(name, func(t *testing.T) {
			prefix := "/" + strings.ReplaceAll(t.Name(), " ", "_") + "/"
			wd := makeWorld(t, servertest.WithEtcd(endpoint, prefix), func(c *config.Config) { c.Privacy.Compact = compact })
			master, err := server.LoadMasterKey(wd.ts.Config)
			if err != nil {
				t.Fatal(err)
			}
			cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			if found := wd.findPersonal(etcdHistory(t, ctx, cli, prefix, master)); len(found) != len(wd.personal) {
				t.Fatalf("the history before the deletion shows only %v", found)
			}
			out, err := wd.gone.Phone.DeleteAccount(ctx, wd.w.PIN)
			if err != nil || out.Compacted != compact {
				t.Fatalf("deletion: %+v %v", out, err)
			}
			if found := wd.findPersonal(liveDump(t, wd.ts.Server.Store())); len(found) > 0 {
				t.Fatalf("live keys still hold %v", found)
			}
			found := wd.findPersonal(etcdHistory(t, ctx, cli, prefix, master))
			if compact && len(found) > 0 {
				t.Fatalf("the retained revisions still hold %v", found)
			}
			if !compact && len(found) == 0 {
				t.Fatal("without compaction the old revisions should still hold the personal fields (the dump sees nothing)")
			}
			v, err := wd.w.Op.VerifyAudit(ctx)
			if err != nil || !v.Valid {
				t.Fatalf("audit verify: %+v %v", v, err)
			}
		})
	}
}

// etcdHistory dumps every key under prefix at every revision etcd still
// holds (from the current one down to the oldest retained, where the next
// older answers "compacted"), values opened with the master key.
func etcdHistory(t *testing.T, ctx context.Context, cli *clientv3.Client, prefix string, master []byte) []byte {
	t.Helper()
	now, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for rev := now.Header.Revision; rev > 0; rev-- {
		resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
		if err != nil {
			if strings.Contains(err.Error(), "compacted") {
				break
			}
			t.Fatal(err)
		}
		for _, kv := range resp.Kvs {
			if kv.ModRevision != rev && rev != now.Header.Revision {
				continue // seen at the revision that wrote it
			}
			key := strings.TrimPrefix(string(kv.Key), prefix)
			buf.WriteString(key + "\n")
			if len(kv.Value) < 9 { // the store's envelope: version, expiry
				continue
			}
			v, err := vault.OpenValue(master, key, kv.Value[9:])
			if err != nil && !errors.Is(err, vault.ErrSealed) {
				t.Fatal(err)
			}
			buf.Write(expand(v))
			buf.WriteString("\n")
		}
	}
	return buf.Bytes()
}
