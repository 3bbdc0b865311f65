package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// KeyPurpose is the gmcrypto.DeriveKey purpose of Config.Key.
const KeyPurpose = "upload-chunks"

// Config configures a Service.
type Config struct {
	// MaxBytes caps one upload (seals.upload_max_bytes).
	MaxBytes int64
	// TTL is how long an upload waits for its session (seals.upload_ttl).
	TTL time.Duration
	// Hold is how long past its TTL an upload's chunks stay in the store
	// for the session that claimed it at the last moment: at least the
	// longest session lifetime (session.max_ttl).
	Hold time.Duration
	// ChunkBytes is the size of one stored chunk.
	ChunkBytes int
	// Key (gmcrypto.KeySize bytes, from gmcrypto.DeriveKey(master,
	// KeyPurpose, nil)) seals the chunks. Wiring, not a file setting.
	Key []byte
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Defaults and bounds of Config.
const (
	DefaultMaxBytes   = 32 << 20
	MinMaxBytes       = 1 << 10
	MaxMaxBytes       = 64 << 20 // seal.MaxPDFBytes
	DefaultTTL        = time.Hour
	MinTTL            = time.Minute
	MaxTTL            = 7 * 24 * time.Hour
	DefaultHold       = 15 * time.Minute
	DefaultChunkBytes = 512 << 10
	// remember is how long past its hold a manifest stays, so that a late
	// claim is told "expired" or "used" rather than "not found".
	remember = time.Hour
)

// DefaultConfig returns MaxBytes 32 MiB, TTL 1 h, Hold 15 min, chunks of
// 512 KiB (Key is left empty).
func DefaultConfig() Config {
	return Config{MaxBytes: DefaultMaxBytes, TTL: DefaultTTL, Hold: DefaultHold, ChunkBytes: DefaultChunkBytes}
}

// Validate names the first value out of range.
func (c Config) Validate() error {
	switch {
	case c.MaxBytes < MinMaxBytes || c.MaxBytes > MaxMaxBytes:
		return fmt.Errorf("%w: upload max bytes %d must be from %d to %d", ErrConfig, c.MaxBytes, MinMaxBytes, MaxMaxBytes)
	case c.TTL < MinTTL || c.TTL > MaxTTL:
		return fmt.Errorf("%w: upload ttl %s must be from %s to %s", ErrConfig, c.TTL, MinTTL, MaxTTL)
	case c.Hold < time.Minute || c.Hold > 24*time.Hour:
		return fmt.Errorf("%w: upload hold %s must be from 1m to 24h", ErrConfig, c.Hold)
	case c.ChunkBytes < 1<<10 || c.ChunkBytes > 1<<20:
		return fmt.Errorf("%w: chunk size %d must be from 1 KiB to 1 MiB", ErrConfig, c.ChunkBytes)
	case len(c.Key) != gmcrypto.KeySize:
		return fmt.Errorf("%w: the chunk key must be %d bytes", ErrConfig, gmcrypto.KeySize)
	}
	return nil
}

// Upload is an upload's manifest.
type Upload struct {
	ID        string    `json:"id"`
	App       string    `json:"app"`
	Size      int64     `json:"size"`
	SHA256    []byte    `json:"sha256"`
	SM3       []byte    `json:"sm3"`
	Chunks    int       `json:"chunks"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Claim is set when a session creation claims the upload, Session
	// once that session exists; Gone once the chunks are deleted.
	Claim   string    `json:"claim,omitempty"`
	ClaimAt time.Time `json:"claim_at,omitzero"`
	Session string    `json:"session,omitempty"`
	Gone    bool      `json:"gone,omitempty"`
}

// Service stores uploads.
type Service struct {
	store storage.Store
	cfg   Config
}

// New returns a Service over store; cfg must Validate. It keeps its own
// copy of cfg.Key.
func New(store storage.Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: no store", ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Key = bytes.Clone(cfg.Key)
	return &Service{store: store, cfg: cfg}, nil
}

// Config returns the configuration (without the key).
func (s *Service) Config() Config {
	c := s.cfg
	c.Key = nil
	return c
}

func (s *Service) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

const (
	prefixManifest = "uploads/m/"
	prefixChunk    = "uploads/c/"
	// IDPrefix starts every upload id.
	IDPrefix = "upl_"
)

func manifestKey(id string) string { return prefixManifest + id }
func chunkPrefix(id string) string { return prefixChunk + id + "/" }
func chunkKey(id string, i int) string {
	return chunkPrefix(id) + fmt.Sprintf("%06d", i)
}
func chunkAD(id string, i int) []byte { return []byte("upload/" + id + "/" + strconv.Itoa(i)) }

// ValidID reports whether id has the form of an upload id.
func ValidID(id string) bool {
	if !strings.HasPrefix(id, IDPrefix) || len(id) != len(IDPrefix)+26 {
		return false
	}
	for _, c := range []byte(id[len(IDPrefix):]) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

func newID() (string, error) {
	b, err := gmcrypto.RandomBytes(26)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(IDPrefix)
	for _, c := range b {
		sb.WriteByte(idAlphabet[c&31])
	}
	return sb.String(), nil
}

// Put stores what r yields (at most Config.MaxBytes) as a new upload of
// app and returns its manifest. A body over the cap is ErrTooLarge, an
// empty one ErrEmpty; the chunks written so far are deleted.
func (s *Service) Put(ctx context.Context, app string, r io.Reader) (*Upload, error) {
	if app == "" {
		return nil, fmt.Errorf("%w: no app", ErrNotFound)
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &Upload{ID: id, App: app, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TTL)}
	chunkTTL := s.cfg.TTL + s.cfg.Hold
	hs, hm := sha256.New(), sm3.New()
	buf := make([]byte, s.cfg.ChunkBytes)
	fail := func(err error) (*Upload, error) {
		s.deleteChunks(context.WithoutCancel(ctx), id, u.Chunks)
		return nil, err
	}
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if u.Size+int64(n) > s.cfg.MaxBytes {
				return fail(fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.cfg.MaxBytes))
			}
			hs.Write(buf[:n])
			hm.Write(buf[:n])
			sealed, err := gmcrypto.Wrap(s.cfg.Key, buf[:n], chunkAD(id, u.Chunks))
			if err != nil {
				return fail(err)
			}
			if _, err := s.store.Txn(ctx, storage.Put(chunkKey(id, u.Chunks), sealed, chunkTTL)); err != nil {
				return fail(fmt.Errorf("upload: store chunk: %w", err))
			}
			u.Chunks++
			u.Size += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("upload: read the body: %w", rerr))
		}
	}
	if u.Size == 0 {
		return fail(ErrEmpty)
	}
	u.SHA256, u.SM3 = hs.Sum(nil), hm.Sum(nil)
	val, err := json.Marshal(u)
	if err != nil {
		return fail(err)
	}
	if _, err := storage.Create(ctx, s.store, manifestKey(id), val, s.manifestTTL(u)); err != nil {
		return fail(fmt.Errorf("upload: store manifest: %w", err))
	}
	return u, nil
}

func (s *Service) manifestTTL(u *Upload) time.Duration {
	d := u.ExpiresAt.Add(s.cfg.Hold + remember).Sub(s.now())
	if d < time.Second {
		d = time.Second
	}
	return d
}

// get reads the manifest of id for app (ErrNotFound for another app's).
func (s *Service) get(ctx context.Context, app, id string) (*Upload, int64, error) {
	if !ValidID(id) {
		return nil, 0, ErrNotFound
	}
	kv, err := s.store.Get(ctx, manifestKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("upload: read %s: %w", id, err)
	}
	var u Upload
	if err := json.Unmarshal(kv.Value, &u); err != nil || u.ID != id {
		return nil, 0, fmt.Errorf("%w: manifest of %s", ErrDamaged, id)
	}
	if app != "" && u.App != app {
		return nil, 0, ErrNotFound
	}
	return &u, kv.Revision, nil
}

// usable: not claimed, not expired.
func (s *Service) usable(u *Upload) error {
	switch {
	case u.Claim != "" || u.Session != "":
		return fmt.Errorf("%w: %s", ErrUsed, u.ID)
	case u.Gone || !s.now().Before(u.ExpiresAt):
		return fmt.Errorf("%w: %s", ErrExpired, u.ID)
	}
	return nil
}

// Open returns the bytes of app's unclaimed, unexpired upload id (to check
// them before a claim).
func (s *Service) Open(ctx context.Context, app, id string) ([]byte, *Upload, error) {
	u, _, err := s.get(ctx, app, id)
	if err != nil {
		return nil, nil, err
	}
	if err := s.usable(u); err != nil {
		return nil, nil, err
	}
	data, err := s.read(ctx, u)
	return data, u, err
}

// Claim marks app's upload id as taken by a session being created, with
// a claim token the caller made; it fails with ErrUsed if another claim
// was first, ErrExpired past its TTL.
func (s *Service) Claim(ctx context.Context, app, id, claim string) (*Upload, error) {
	return s.update(ctx, app, id, func(u *Upload) error {
		if err := s.usable(u); err != nil {
			return err
		}
		u.Claim, u.ClaimAt = claim, s.now()
		return nil
	})
}

// Bind records the session that claim created: only that session may read
// the upload from now on.
func (s *Service) Bind(ctx context.Context, app, id, claim, sessionID string) error {
	_, err := s.update(ctx, app, id, func(u *Upload) error {
		if u.Claim != claim || u.Session != "" || u.Gone {
			return fmt.Errorf("%w: %s", ErrUsed, id)
		}
		u.Session = sessionID
		return nil
	})
	return err
}

// Release undoes claim (its session could not be created).
func (s *Service) Release(ctx context.Context, app, id, claim string) error {
	_, err := s.update(ctx, app, id, func(u *Upload) error {
		if u.Claim != claim || u.Session != "" {
			return fmt.Errorf("%w: %s", ErrUsed, id)
		}
		u.Claim, u.ClaimAt = "", time.Time{}
		return nil
	})
	return err
}

func (s *Service) update(ctx context.Context, app, id string, fn func(*Upload) error) (*Upload, error) {
	for range 8 {
		u, rev, err := s.get(ctx, app, id)
		if err != nil {
			return nil, err
		}
		if err := fn(u); err != nil {
			return nil, err
		}
		val, err := json.Marshal(u)
		if err != nil {
			return nil, err
		}
		_, err = storage.CompareAndSwap(ctx, s.store, manifestKey(id), rev, val, s.manifestTTL(u))
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("upload: update %s: %w", id, err)
		}
		return u, nil
	}
	return nil, fmt.Errorf("upload: update %s: %w", id, storage.ErrConflict)
}

// Read returns the bytes of upload id for the session it is bound to
// (app's session sessionID), checked against the manifest's SHA-256.
func (s *Service) Read(ctx context.Context, app, sessionID, id string) ([]byte, error) {
	u, _, err := s.get(ctx, app, id)
	if err != nil {
		return nil, err
	}
	if u.Session != sessionID || sessionID == "" {
		return nil, ErrNotFound
	}
	if u.Gone {
		return nil, fmt.Errorf("%w: %s", ErrExpired, id)
	}
	return s.read(ctx, u)
}

func (s *Service) read(ctx context.Context, u *Upload) ([]byte, error) {
	out := make([]byte, 0, u.Size)
	for i := 0; i < u.Chunks; i++ {
		kv, err := s.store.Get(ctx, chunkKey(u.ID, i))
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrExpired, u.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("upload: read %s: %w", u.ID, err)
		}
		pt, err := gmcrypto.Unwrap(s.cfg.Key, kv.Value, chunkAD(u.ID, i))
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %d of %s does not open", ErrDamaged, i, u.ID)
		}
		out = append(out, pt...)
	}
	sum := sha256.Sum256(out)
	if int64(len(out)) != u.Size || !bytes.Equal(sum[:], u.SHA256) {
		return nil, fmt.Errorf("%w: %s does not hash to its manifest", ErrDamaged, u.ID)
	}
	return out, nil
}

// Delete drops the chunks of upload id and marks it gone (a later claim
// is refused as used or expired). Deleting a missing upload is no error.
func (s *Service) Delete(ctx context.Context, id string) error {
	u, err := s.update(ctx, "", id, func(u *Upload) error {
		u.Gone = true
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.deleteChunks(ctx, id, u.Chunks)
}

func (s *Service) deleteChunks(ctx context.Context, id string, n int) error {
	for i := 0; i < n; i++ {
		if _, err := s.store.Txn(ctx, storage.Delete(chunkKey(id, i))); err != nil {
			return fmt.Errorf("upload: delete %s: %w", id, err)
		}
	}
	return nil
}

// SessionEnded tells the sweeper whether a session has ended (a session
// that no longer exists has).
type SessionEnded func(ctx context.Context, sessionID string) (bool, error)

// claimLapse is how long a claim without a session is kept before the
// sweeper treats the session creation as failed.
const claimLapse = 5 * time.Minute

// Sweep deletes the chunks of every upload whose session has ended, whose
// claim never became a session, or that expired unclaimed. It returns how
// many it deleted.
func (s *Service) Sweep(ctx context.Context, ended SessionEnded) (int, error) {
	kvs, _, err := s.store.List(ctx, prefixManifest)
	if err != nil {
		return 0, fmt.Errorf("upload: sweep: %w", err)
	}
	now, n := s.now(), 0
	for _, kv := range kvs {
		var u Upload
		if json.Unmarshal(kv.Value, &u) != nil || u.Gone {
			continue
		}
		drop := false
		switch {
		case u.Session != "":
			if ended == nil {
				continue
			}
			if drop, err = ended(ctx, u.Session); err != nil {
				continue // ask again next time
			}
		case u.Claim != "":
			drop = now.Sub(u.ClaimAt) > claimLapse
		default:
			drop = !now.Before(u.ExpiresAt)
		}
		if drop {
			if err := s.Delete(ctx, u.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Run sweeps every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration, ended SessionEnded) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.Sweep(ctx, ended)
		}
	}
}
