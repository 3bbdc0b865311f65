package vault

import (
	"context"
	"fmt"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// AuditActionRestore is the audit entry of a restore (`ukeygate restore`),
// in the log it restored.
const AuditActionRestore = "backup.restore"

// RestoreActor is the actor of AuditActionRestore: the person who ran
// the restore on the host (offline: no token, so no operator name).
const RestoreActor = "operator"

// RecordRestore appends the restore's audit entry (detail: what was
// restored, backup.RestoreDetail) to the audit log of raw, a store that a
// restore has just written and still marks (RestoringKey), and returns
// the entry's seq. The entry is sealed like every value and chained after
// the restored entries, under the head sealed with a key derived from
// the store's data key, so that `ukeygate audit verify` passes on the
// restored store. master must be the key the backup is sealed under
// (ErrWrongKey).
func RecordRestore(ctx context.Context, raw storage.Store, master []byte, detail string) (int64, error) {
	if _, err := raw.Get(ctx, RestoringKey); err != nil {
		return 0, fmt.Errorf("vault: recording a restore in a store not being restored: %w", err)
	}
	v, err := openRestoring(ctx, raw, master)
	if err != nil {
		return 0, err
	}
	defer gmcrypto.Zero(v.DataKey)
	log, err := audit.New(v.Store, v.DataKey, nil)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	e, err := log.Append(ctx, audit.Entry{Action: AuditActionRestore, Actor: RestoreActor, Outcome: audit.OutcomeOK, Detail: detail})
	if err != nil {
		return 0, fmt.Errorf("vault: recording the restore in the audit log: %w", err)
	}
	return e.Seq, nil
}
