package vault

import "errors"

// Sentinel errors of package vault, checked with errors.Is.
var (
	// ErrWrongKey: the master key is not the one this store is sealed
	// under (for example the old key after a rotation).
	ErrWrongKey = errors.New("vault: wrong master key for this store")
	// ErrRotating: a master-key rotation was started and not finished.
	ErrRotating = errors.New("vault: master-key rotation not finished")
	// ErrRestoring: a restore into this store was started and not finished.
	ErrRestoring = errors.New("vault: restore not finished")
	// ErrSealed: a stored value cannot be opened (damaged, or sealed under
	// a key this view does not hold).
	ErrSealed = errors.New("vault: stored value cannot be opened")
	// ErrReserved: a write to the vault's own keys through the sealed view.
	ErrReserved = errors.New("vault: reserved key")
	// ErrKeyring: the keyring record is malformed.
	ErrKeyring = errors.New("vault: malformed keyring record")
)
