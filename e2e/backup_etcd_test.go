package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"testing"

	"github.com/ukeygate/ukeygate/backup"
	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/etcd"
	"github.com/ukeygate/ukeygate/vault"
)

// TestBackupRestoreOnEtcd: a node on etcd is backed up through the
// operator API; the backup restores into an empty prefix, and a node
// there (same master key) has everything: the user's keys open under the
// PIN (a PIN change re-wraps each of them), the CA issues, the audit log
// verifies, and restoring over data is refused.
func TestBackupRestoreOnEtcd(t *testing.T) {
	t.Parallel()
	endpoint := servertest.StartEtcd(t)
	ts := servertest.Start(t, servertest.WithEtcd(endpoint, "/"+t.Name()+"/a/"))
	w := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "backup SM2 Root"), seed.Generated("rsa", "RSA", "backup RSA Root")},
		Users:   []seed.User{{Name: "张三", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("rsa", "RSA")}}},
	})
	ctx := context.Background()
	var buf bytes.Buffer
	if _, err := w.Op.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	sum, err := backup.Verify(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Backend != config.BackendEtcd || sum.Records < 10 {
		t.Fatalf("backup summary %+v", sum)
	}

	ec := etcd.DefaultConfig()
	ec.Endpoints, ec.Prefix = []string{endpoint}, "/"+t.Name()+"/b/"
	dst, err := etcd.Open(ec)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(ts.Config.MasterKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	// As `ukeygate restore` does: the restore's audit entry is written
	// while the prefix is still marked.
	record := backup.RestoreOptions{Finish: func(ctx context.Context, dst storage.Store, s backup.Summary) error {
		_, err := vault.RecordRestore(ctx, dst, key, backup.RestoreDetail(s, "e2e@etcd"))
		return err
	}}
	if _, err := backup.RestoreWith(ctx, bytes.NewReader(buf.Bytes()), dst, record); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.RestoreWith(ctx, bytes.NewReader(buf.Bytes()), dst, record); err == nil {
		t.Fatal("a restore over a restored prefix was accepted")
	}
	dst.Close()

	ts2 := servertest.Start(t, servertest.WithEtcd(endpoint, "/"+t.Name()+"/b/"), func(c *config.Config) {
		c.MasterKey = hex.EncodeToString(key)
		c.AdminToken = ts.AdminToken
	})
	u := w.Users[0]
	u.Phone.BaseURL = ts2.URL
	if err := u.Phone.ChangePIN(ctx, w.PIN, "246801"); err != nil {
		t.Fatalf("PIN change on the restored node (every key re-wrapped): %v", err)
	}
	if c, err := u.Phone.RequestCredential(ctx, "sm2", "SM2", "encrypt", "246801"); err != nil || c.State != "active" {
		t.Fatalf("issuing on the restored node: %+v, %v", c, err)
	}
	op2 := &operator.Client{BaseURL: ts2.URL, Token: ts.AdminToken}
	if v, err := op2.VerifyAudit(ctx); err != nil || !v.Valid {
		t.Fatalf("audit verify on the restored node: %+v, %v", v, err)
	}
	// One restore entry (the refused second restore wrote none).
	restores, err := op2.AllAudit(ctx, operator.AuditFilter{Action: vault.AuditActionRestore})
	if err != nil || len(restores) != 1 || restores[0].Actor != "operator" ||
		restores[0].Detail != backup.RestoreDetail(sum, "e2e@etcd") {
		t.Fatalf("backup.restore entries %+v (%v), want one with %q", restores, err, backup.RestoreDetail(sum, "e2e@etcd"))
	}
}
