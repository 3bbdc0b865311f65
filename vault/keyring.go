package vault

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// Keys of the vault's own records.
const (
	// KeyringKey holds the keyring (unsealed JSON; its secrets are wrapped).
	KeyringKey = ReservedPrefix + "keyring"
	// RestoringKey exists while a restore writes into the store.
	RestoringKey = ReservedPrefix + "restoring"
)

// keyringVersion is the format of the keyring record.
const keyringVersion = 1

// Keyring states.
const (
	stateReady    = ""
	stateSealing  = "sealing"  // sealing the values of a store from before the vault
	stateRotating = "rotating" // re-sealing under NextKeyID
)

// keyring is the record at KeyringKey.
type keyring struct {
	Version int    `json:"version"`
	StoreID string `json:"store_id"`
	// KeyID is the current master key; DataKey the data key wrapped under
	// its key-encryption key (associated data: the keyring key).
	KeyID   string `json:"key_id"`
	DataKey []byte `json:"data_key"`
	State   string `json:"state,omitempty"`
	// NextKeyID and NextDataKey are set while rotating to a new key.
	NextKeyID   string    `json:"next_key_id,omitempty"`
	NextDataKey []byte    `json:"next_data_key,omitempty"`
	Rotations   int       `json:"rotations"`
	CreatedAt   time.Time `json:"created_at"`
	RotatedAt   time.Time `json:"rotated_at,omitzero"`
}

// Info is what the keyring says about a store, for backups and operators.
type Info struct {
	StoreID string
	KeyID   string
	State   string
}

func readKeyring(ctx context.Context, raw storage.Store) (keyring, int64, error) {
	kv, err := raw.Get(ctx, KeyringKey)
	if err != nil {
		return keyring{}, 0, err
	}
	var kr keyring
	if err := json.Unmarshal(kv.Value, &kr); err != nil {
		return keyring{}, 0, fmt.Errorf("%w: %v", ErrKeyring, err)
	}
	if kr.Version != keyringVersion || kr.StoreID == "" || kr.KeyID == "" || len(kr.DataKey) == 0 {
		return keyring{}, 0, fmt.Errorf("%w: version %d, missing fields", ErrKeyring, kr.Version)
	}
	return kr, kv.Revision, nil
}

func writeKeyring(ctx context.Context, raw storage.Store, kr keyring, rev int64) error {
	b, err := json.Marshal(kr)
	if err != nil {
		return err
	}
	_, err = storage.CompareAndSwap(ctx, raw, KeyringKey, rev, b, 0)
	return err
}

// ReadInfo returns the store id, the current master key id and the state
// of raw's keyring (storage.ErrNotFound for a store never opened).
func ReadInfo(ctx context.Context, raw storage.Store) (Info, error) {
	kr, _, err := readKeyring(ctx, raw)
	if err != nil {
		return Info{}, err
	}
	return Info{StoreID: kr.StoreID, KeyID: kr.KeyID, State: kr.State}, nil
}

func (mk *masterKeys) wrapDataKey(dk []byte) ([]byte, error) {
	return gmcrypto.Wrap(mk.kek, dk, []byte(KeyringKey))
}

func (mk *masterKeys) unwrapDataKey(w []byte) ([]byte, error) {
	dk, err := gmcrypto.Unwrap(mk.kek, w, []byte(KeyringKey))
	if err != nil {
		return nil, fmt.Errorf("%w: the data key does not open under master key %s", ErrWrongKey, mk.id)
	}
	return dk, nil
}

// Vault is an opened store: the sealed view and the data key.
type Vault struct {
	// Store is the sealed view; closing it closes the underlying store.
	Store storage.Store
	// DataKey is what services derive their keys from (in place of the
	// master key). The caller zeroes it when done.
	DataKey []byte
	Info    Info
}

// Open checks that master is the key raw is sealed under and returns the
// sealed view. A store without a keyring gets one: an empty store a
// random data key, a store written before sealing existed the master key
// as data key, and its values are sealed first (resumable). Open refuses
// a store whose rotation or restore is unfinished (ErrRotating,
// ErrRestoring) and a master key that is not the store's (ErrWrongKey).
func Open(ctx context.Context, raw storage.Store, master []byte) (*Vault, error) {
	mk, err := deriveKeys(master)
	if err != nil {
		return nil, err
	}
	if _, err := raw.Get(ctx, RestoringKey); err == nil {
		return nil, fmt.Errorf("%w: the store holds a partial restore: empty it and run `ukeygate restore` again", ErrRestoring)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	kr, rev, err := readKeyring(ctx, raw)
	if errors.Is(err, storage.ErrNotFound) {
		kr, rev, err = createKeyring(ctx, raw, mk, master)
	}
	if err != nil {
		return nil, err
	}
	if kr.State == stateSealing {
		if err := sealLegacy(ctx, raw, mk, kr, rev); err != nil {
			return nil, err
		}
		if kr, _, err = readKeyring(ctx, raw); err != nil {
			return nil, err
		}
	}
	return openReady(raw, mk, kr)
}

// openRestoring is Open for the restore that is writing raw, while its
// marker (RestoringKey) is still there: for the restore's own last writes
// (its audit entry) before it removes the marker, so that a restore that
// stops before them leaves a store Open refuses. It neither creates nor
// changes a keyring: raw must hold the backup's, ready, and master must
// be its key (ErrWrongKey).
func openRestoring(ctx context.Context, raw storage.Store, master []byte) (*Vault, error) {
	mk, err := deriveKeys(master)
	if err != nil {
		return nil, err
	}
	kr, _, err := readKeyring(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("vault: the restored store's keyring: %w", err)
	}
	return openReady(raw, mk, kr)
}

// openReady returns the sealed view of raw under keyring kr, which must be
// ready and of master key mk.
func openReady(raw storage.Store, mk *masterKeys, kr keyring) (*Vault, error) {
	switch {
	case kr.State == stateRotating:
		return nil, fmt.Errorf("%w: a rotation from master key %s to %s was interrupted: finish it with `ukeygate master-key rotate --new-key-file FILE` (the new key file), then serve with the new key",
			ErrRotating, kr.KeyID, kr.NextKeyID)
	case kr.State != stateReady:
		return nil, fmt.Errorf("%w: unknown state %q", ErrKeyring, kr.State)
	case kr.KeyID != mk.id.String():
		return nil, fmt.Errorf("%w: this store is sealed under master key %s, the key given is %s (after a rotation the old key no longer opens the store)",
			ErrWrongKey, kr.KeyID, mk.id)
	}
	dk, err := mk.unwrapDataKey(kr.DataKey)
	if err != nil {
		return nil, err
	}
	return &Vault{
		Store:   &sealedStore{inner: raw, write: mk, read: keySet{mk.id: mk}},
		DataKey: dk,
		Info:    Info{StoreID: kr.StoreID, KeyID: kr.KeyID},
	}, nil
}

// createKeyring writes the first keyring of raw (compare-and-swap: of two
// nodes starting together, one writes it and both use it).
func createKeyring(ctx context.Context, raw storage.Store, mk *masterKeys, master []byte) (keyring, int64, error) {
	kvs, _, err := raw.List(ctx, "")
	if err != nil {
		return keyring{}, 0, err
	}
	legacy := false
	for _, kv := range kvs {
		if !reserved(kv.Key) {
			legacy = true
			break
		}
	}
	id, err := gmcrypto.RandomBytes(16)
	if err != nil {
		return keyring{}, 0, err
	}
	kr := keyring{Version: keyringVersion, StoreID: hex.EncodeToString(id), KeyID: mk.id.String(), CreatedAt: time.Now().UTC()}
	var dk []byte
	if legacy {
		// Everything already stored was derived from the master key.
		kr.State = stateSealing
		dk = append([]byte(nil), master...)
	} else if dk, err = gmcrypto.RandomBytes(DataKeySize); err != nil {
		return keyring{}, 0, err
	}
	defer gmcrypto.Zero(dk)
	if kr.DataKey, err = mk.wrapDataKey(dk); err != nil {
		return keyring{}, 0, err
	}
	err = writeKeyring(ctx, raw, kr, 0)
	if errors.Is(err, storage.ErrConflict) {
		return readKeyring(ctx, raw)
	}
	if err != nil {
		return keyring{}, 0, err
	}
	return readKeyring(ctx, raw)
}

// sealLegacy seals every unsealed value of a store from before the vault,
// then marks the keyring ready.
func sealLegacy(ctx context.Context, raw storage.Store, mk *masterKeys, kr keyring, rev int64) error {
	if kr.KeyID != mk.id.String() {
		return fmt.Errorf("%w: the store's first sealing was started with master key %s, not %s", ErrWrongKey, kr.KeyID, mk.id)
	}
	if _, err := reseal(ctx, raw, mk, keySet{}, true, RotateOptions{}); err != nil {
		return err
	}
	kr.State = stateReady
	if err := writeKeyring(ctx, raw, kr, rev); err != nil && !errors.Is(err, storage.ErrConflict) {
		return err
	}
	return nil
}
