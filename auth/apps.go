package auth

import (
	"context"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// App is a portal (relying party) allowed to create sessions.
type App struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Origins []string `json:"origins"`
	// CreatedAt is when the app was registered.
	CreatedAt time.Time `json:"created_at"`
	// KeyRotatedAt is when the app key was last replaced (zero: never).
	KeyRotatedAt time.Time `json:"key_rotated_at,omitzero"`
	// DisabledAt is when the operator disabled the app (zero: enabled); the
	// key of a disabled app is refused with ErrAppDisabled.
	DisabledAt time.Time `json:"disabled_at,omitzero"`
}

// Disabled reports whether the app has been disabled.
func (a *App) Disabled() bool { return !a.DisabledAt.IsZero() }

// AllowsOrigin reports whether origin (as a browser sends it in the Origin
// header) is one of the app's registered origins. "null" and malformed
// origins are never allowed.
func (a *App) AllowsOrigin(origin string) bool {
	o, err := NormalizeOrigin(origin)
	if err != nil {
		return false
	}
	for _, allowed := range a.Origins {
		if allowed == o {
			return true
		}
		// An origin registered before hosts were kept in their ASCII
		// form (an internationalised one stored as typed) still matches.
		if !isASCII(allowed) {
			if n, err := NormalizeOrigin(allowed); err == nil && n == o {
				return true
			}
		}
	}
	return false
}

// App key format: the prefix and 32 random bytes in lowercase base32.
const (
	AppKeyPrefix  = "ukg_"
	appKeyRandLen = 32
)

// Limits of an app's fields.
const (
	MaxAppNameLen = 100 // characters
	MaxAppOrigins = 32
	maxOriginLen  = 255
)

// Storage keys.
const (
	pfxApps      = "apps/"
	pfxAppsByKey = "apps-by-key/"
	prefixAppID  = "app_"
)

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// appRecord is what is stored under apps/<id>.
type appRecord struct {
	App
	// KeyHash is hex SM3 of the app key.
	KeyHash string `json:"key_hash"`
}

// Apps registers portals and authenticates their app keys. Keys are stored
// as SM3 hashes; the key itself is returned once, by Create.
type Apps struct {
	store storage.Store
	now   func() time.Time
}

// NewApps returns the app registry over store.
func NewApps(store storage.Store) *Apps {
	return &Apps{store: store, now: time.Now}
}

// Create registers an app with a name and its allowed origins and returns
// it with its API key, which is not stored and cannot be shown again.
// Origins are normalized (lowercase, default port dropped) and
// deduplicated.
func (s *Apps) Create(ctx context.Context, name string, origins []string) (*App, string, error) {
	name = strings.TrimSpace(name)
	if err := validateAppName(name); err != nil {
		return nil, "", err
	}
	if len(origins) > MaxAppOrigins {
		return nil, "", fmt.Errorf("%w: more than %d origins", ErrInvalidOrigin, MaxAppOrigins)
	}
	norm := make([]string, 0, len(origins))
	seen := map[string]bool{}
	for i, o := range origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, "", &protocol.FieldError{Field: fmt.Sprintf("origins[%d]", i), Err: ErrInvalidOrigin,
				Reason: strings.TrimPrefix(err.Error(), ErrInvalidOrigin.Error()+": ")}
		}
		if !seen[n] {
			seen[n] = true
			norm = append(norm, n)
		}
	}
	raw, err := gmcrypto.RandomBytes(appKeyRandLen)
	if err != nil {
		return nil, "", err
	}
	key := AppKeyPrefix + keyEncoding.EncodeToString(raw)
	hash := hashKey(key)
	id, err := newAppID()
	if err != nil {
		return nil, "", err
	}
	rec := appRecord{
		App:     App{ID: id, Name: name, Origins: norm, CreatedAt: s.now().UTC().Truncate(time.Second)},
		KeyHash: hash,
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, "", fmt.Errorf("auth: encode app: %w", err)
	}
	app := rec.App
	_, err = audit.Commit(ctx, s.store, []storage.Op{
		storage.IfAbsent(pfxApps + id),
		storage.IfAbsent(pfxAppsByKey + hash),
		storage.Put(pfxApps+id, b, 0),
		storage.Put(pfxAppsByKey+hash, []byte(id), 0),
	}, &app)
	if err != nil {
		return nil, "", fmt.Errorf("auth: store app: %w", err)
	}
	return &app, key, nil
}

// Get returns the app with that id, or ErrAppNotFound.
func (s *Apps) Get(ctx context.Context, id string) (*App, error) {
	rec, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &rec.App, nil
}

func (s *Apps) get(ctx context.Context, id string) (*appRecord, error) {
	if !validAppID(id) {
		return nil, ErrAppNotFound
	}
	// Only decoded (json.Unmarshal keeps nothing of its input): the
	// record cache's copy will do.
	kv, err := storage.GetShared(ctx, s.store, pfxApps+id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrAppNotFound
	}
	if err != nil {
		return nil, err
	}
	var rec appRecord
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		return nil, fmt.Errorf("auth: corrupt app record %s: %w", id, err)
	}
	return &rec, nil
}

// List returns every app, sorted by id.
func (s *Apps) List(ctx context.Context) ([]*App, error) {
	kvs, _, err := s.store.List(ctx, pfxApps)
	if err != nil {
		return nil, err
	}
	apps := make([]*App, 0, len(kvs))
	for _, kv := range kvs {
		var rec appRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return nil, fmt.Errorf("auth: corrupt app record %s: %w", kv.Key, err)
		}
		app := rec.App
		apps = append(apps, &app)
	}
	return apps, nil
}

// Authenticate returns the app whose key apiKey is; a malformed or unknown
// key (a replaced one too) is ErrInvalidToken, an empty one
// ErrMissingToken, the key of a disabled app ErrAppDisabled. The lookup is
// by the key's hash and the final comparison is in constant time.
func (s *Apps) Authenticate(ctx context.Context, apiKey string) (*App, error) {
	if apiKey == "" {
		return nil, ErrMissingToken
	}
	if !strings.HasPrefix(apiKey, AppKeyPrefix) || len(apiKey) > 128 {
		return nil, ErrInvalidToken
	}
	hash := hashKey(apiKey)
	kv, err := s.store.Get(ctx, pfxAppsByKey+hash)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	rec, err := s.get(ctx, string(kv.Value))
	if errors.Is(err, ErrAppNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if !gmcrypto.Equal([]byte(rec.KeyHash), []byte(hash)) {
		return nil, ErrInvalidToken
	}
	if rec.Disabled() {
		return nil, fmt.Errorf("%w: %s", ErrAppDisabled, rec.ID)
	}
	return &rec.App, nil
}

// hashKey is the hex SM3 of an app key, its storage name.
func hashKey(key string) string { return hex.EncodeToString(gmcrypto.SM3([]byte(key))) }

func newAppID() (string, error) {
	b, err := gmcrypto.RandomBytes(10)
	if err != nil {
		return "", err
	}
	return prefixAppID + keyEncoding.EncodeToString(b), nil
}

func validAppID(id string) bool { return protocol.ValidID(id) }

func validateAppName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return fmt.Errorf("%w: name: empty", ErrInvalidApp)
	case n > MaxAppNameLen:
		return fmt.Errorf("%w: name: longer than %d characters", ErrInvalidApp, MaxAppNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name: not valid UTF-8", ErrInvalidApp)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: name: contains a control character", ErrInvalidApp)
		}
	}
	// The phone shows the name as who asks for the PIN.
	if r, hidden := protocol.HiddenIn(name); hidden {
		return fmt.Errorf("%w: name: %s", ErrInvalidApp, protocol.HiddenReason(r))
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// NormalizeOrigin checks that origin is scheme://host[:port] with scheme
// http or https and nothing after the authority but an optional single
// trailing "/" (an address copied from the browser's address bar), and
// returns it with the scheme and host in lowercase, an internationalised
// host in its ASCII (xn--) form, a default port (80, 443) and the
// trailing "/" dropped: the form apps store and every check compares.
func NormalizeOrigin(origin string) (string, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrInvalidOrigin, origin, why) }
	if origin == "" || len(origin) > maxOriginLen {
		return "", bad("empty or too long")
	}
	u, err := url.Parse(origin)
	if err != nil {
		return "", bad("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", bad("scheme must be http or https")
	case u.Opaque != "" || u.Host == "":
		return "", bad("no host")
	case u.User != nil:
		return "", bad("must not carry user info")
	case u.Path != "" && (u.Path != "/" || u.RawPath != ""):
		return "", bad(`must not carry a path: an origin is scheme://host[:port] (a single trailing "/" is allowed, nothing more)`)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(origin, "?#"):
		return "", bad("must not carry a query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.ContainsAny(host, " %") {
		return "", bad("bad host")
	}
	// An internationalised host becomes its ASCII (punycode) form, as a
	// browser sends it in the Origin header, and as the phone then shows
	// it: a host that mixes lookalike letters of other scripts
	// ("bіd.example" with a Cyrillic і) reads "xn--…", not as the site it
	// imitates.
	if !isASCII(host) {
		a, err := idna.Lookup.ToASCII(host)
		if err != nil || !isASCII(a) {
			return "", bad("not a valid internationalised host name")
		}
		host = a
	}
	port := u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return "", bad("empty port")
	}
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return "", bad("bad port")
		}
		if scheme == "http" && p == 80 || scheme == "https" && p == 443 {
			port = ""
		} else {
			port = strconv.Itoa(p)
		}
	}
	hostport := host
	if strings.Contains(host, ":") { // IPv6 literal
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	}
	return scheme + "://" + hostport, nil
}
