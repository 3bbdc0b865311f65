package ca

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// Service is the CA: issuers, users, devices and credentials kept in a
// storage.Store. It is safe for concurrent use, also by several processes
// sharing one store.
type Service struct {
	store  storage.Store
	cfg    Config
	master []byte
	// activationKey is the HMAC-SM3 key activation codes are hashed with.
	activationKey []byte
	// issuerMemo maps an issuer id to its *issuerMemo (Issuer).
	issuerMemo sync.Map
}

// New returns a Service over store. masterKey (at least 32 bytes) wraps
// every secret at rest; it is copied.
func New(store storage.Store, masterKey []byte, cfg Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: store: nil", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(masterKey) < gmcrypto.MinMasterKeyLen {
		return nil, fmt.Errorf("%w: master key: %d bytes, need at least %d", ErrInvalidConfig, len(masterKey), gmcrypto.MinMasterKeyLen)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	master := append([]byte(nil), masterKey...)
	ak, err := gmcrypto.DeriveKey(master, purposeActivation, []byte(saltActivation))
	if err != nil {
		return nil, fmt.Errorf("%w: master key: %w", ErrInvalidConfig, err)
	}
	return &Service{store: store, cfg: cfg, master: master, activationKey: ak}, nil
}

// Key-derivation purposes and fixed salts (storage format: never change).
const (
	purposeActivation = "ukeygate/ca/activation-code/v1"
	saltActivation    = "ukeygate activation code hash"
	purposeIssuerKey  = "issuer-key"
	pinVerifierLabel  = "ukeygate/ca/pin-verifier/v1"
)

// Storage key prefixes (see docs/architecture.md).
const (
	pfxIssuers     = "issuers/"
	pfxCRLs        = "crls/"        // crls/<issuer>: the current CRL
	pfxRevocations = "revocations/" // revocations/<issuer>/<serial hex>
	pfxSerials     = "serials/"     // serials/<issuer>/<serial hex> -> credential
	pfxUsers       = "users/"
	pfxDevices     = "devices/"
	pfxActivation  = "activation/" // activation/<hex HMAC-SM3 of the code>
	pfxCredentials = "credentials/"
	pfxUserCreds   = "usercreds/" // usercreds/<user>/<credential>: index
	pfxCredSlots   = "credslots/" // credslots/<user>/<issuer>/<alg>/<purpose> -> credential
)

func issuerKey(id string) string     { return pfxIssuers + id }
func crlKey(issuerID string) string  { return pfxCRLs + issuerID }
func userKey(id string) string       { return pfxUsers + id }
func deviceKey(id string) string     { return pfxDevices + id }
func credentialKey(id string) string { return pfxCredentials + id }
func userCredKey(userID, credID string) string {
	return pfxUserCreds + userID + "/" + credID
}
func revocationKey(issuerID, serial string) string {
	return pfxRevocations + issuerID + "/" + serial
}
func serialKey(issuerID, serial string) string {
	return pfxSerials + issuerID + "/" + serial
}
func slotKey(userID, issuerID string, alg gmcrypto.Alg, p Purpose) string {
	return pfxCredSlots + userID + "/" + issuerID + "/" + strings.ToLower(string(alg)) + "/" + string(p)
}

// ValidID reports whether id is a well-formed id (generated or given by
// the operator): 1 to 64 characters of [a-z0-9_-] (protocol.ValidID).
func ValidID(id string) bool { return protocol.ValidID(id) }

// ID prefixes of generated ids.
const (
	prefixIssuer     = "iss_"
	prefixUser       = protocol.UserIDPrefix
	prefixDevice     = "dev_"
	prefixCredential = "crd_"
)

// idAlphabet is lowercase base32 without look-alikes (Crockford's order),
// the one protocol.ValidUserID checks.
const idAlphabet = protocol.IDAlphabet

// newID returns prefix followed by 16 random characters (80 bits).
func newID(prefix string) (string, error) {
	b, err := gmcrypto.RandomBytes(16)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(prefix)
	for _, c := range b {
		sb.WriteByte(idAlphabet[c&31])
	}
	return sb.String(), nil
}

// maxAttempts bounds the optimistic-concurrency retries of one call.
const maxAttempts = 8

// retry runs fn until it returns something else than storage.ErrConflict,
// at most maxAttempts times; then it is ErrConflict.
func retry(ctx context.Context, fn func() error) error {
	var err error
	for range maxAttempts {
		if err = ctx.Err(); err != nil {
			return err
		}
		err = fn()
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrConflict, err)
}

// getJSON reads key into v and returns its revision; a missing key is
// storage.ErrNotFound.
func (s *Service) getJSON(ctx context.Context, key string, v any) (int64, error) {
	// Only decoded (json.Unmarshal keeps nothing of its input): the
	// record cache's copy will do.
	kv, err := storage.GetShared(ctx, s.store, key)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return 0, fmt.Errorf("ca: corrupt record %s: %w", key, err)
	}
	return kv.Revision, nil
}

// loadRecord reads the record of id stored at key into a new T: an id
// that is not well formed, or has no record, is notFound.
func loadRecord[T any](ctx context.Context, s *Service, key, id string, notFound error) (*T, int64, error) {
	if !ValidID(id) {
		return nil, 0, fmt.Errorf("%w: %q", notFound, id)
	}
	var rec T
	rev, err := s.getJSON(ctx, key, &rec)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %s", notFound, id)
	}
	if err != nil {
		return nil, 0, err
	}
	return &rec, rev, nil
}

// putJSON is a storage.Put of v's JSON encoding.
func putJSON(key string, v any, ttl time.Duration) (storage.Op, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return storage.Op{}, fmt.Errorf("ca: encode %s: %w", key, err)
	}
	return storage.Put(key, b, ttl), nil
}

// ifRev is IfRevision, or IfAbsent for rev 0.
func ifRev(key string, rev int64) storage.Op { return storage.IfRevision(key, rev) }

func (s *Service) now() time.Time { return s.cfg.Now() }

// txnBuilder collects the ops of one transaction; the first encoding
// error is kept and returned by commit.
type txnBuilder struct {
	ops []storage.Op
	err error
}

func (b *txnBuilder) cond(key string, rev int64) { b.ops = append(b.ops, ifRev(key, rev)) }

func (b *txnBuilder) put(key string, v any, ttl time.Duration) {
	if b.err != nil {
		return
	}
	op, err := putJSON(key, v, ttl)
	if err != nil {
		b.err = err
		return
	}
	b.ops = append(b.ops, op)
}

func (b *txnBuilder) del(key string) { b.ops = append(b.ops, storage.Delete(key)) }

// commitAction commits b with the audit entry of ctx's action
// (audit.WithAction) built from result, in one transaction: the action
// and its entry are stored together or not at all.
func (b *txnBuilder) commitAction(ctx context.Context, s storage.Store, result any) error {
	if b.err != nil {
		return b.err
	}
	_, err := audit.Commit(ctx, s, b.ops, result)
	return err
}

func (b *txnBuilder) commit(ctx context.Context, s storage.Store) error {
	if b.err != nil {
		return b.err
	}
	_, err := s.Txn(ctx, b.ops...)
	return err
}

// jsonUnmarshal decodes a listed record.
func jsonUnmarshal(kv storage.KV, v any) error {
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return fmt.Errorf("ca: corrupt record %s: %w", kv.Key, err)
	}
	return nil
}
