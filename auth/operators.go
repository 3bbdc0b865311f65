package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// Named operators. The admin token is the bootstrap operator "admin"; it
// adds named operators, each with a token of its own that is shown once
// and stored as its SM3 hash. Every operator request carries its
// operator's name (Operator) into the audit entries it writes.

// BootstrapOperator is the name of the operator that holds the admin token.
const BootstrapOperator = "admin"

// OperatorTokenPrefix starts every named operator's token:
// "op." NAME "." SECRET. The name in the token makes the lookup one Get.
const OperatorTokenPrefix = "op."

const (
	pfxOperators       = "operators/"
	operatorSecretLen  = 32
	maxOperatorNameLen = 32
	maxTokenLen        = 256
)

var operatorNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ValidOperatorName reports whether name is a well-formed operator name:
// 1 to 32 of a-z, 0-9 and '-', starting with a letter, and not "admin".
func ValidOperatorName(name string) bool {
	return len(name) <= maxOperatorNameLen && operatorNameRE.MatchString(name) && name != BootstrapOperator
}

// ParseOperatorToken returns the operator name of a token of the form
// "op." NAME "." SECRET: at most 256 bytes, NAME a valid operator name
// (ValidOperatorName) and SECRET not empty. It reads nothing and checks
// no secret: a token of that form may still be wrong.
func ParseOperatorToken(tok string) (string, bool) {
	if len(tok) > maxTokenLen || !strings.HasPrefix(tok, OperatorTokenPrefix) {
		return "", false
	}
	name, secret, found := strings.Cut(strings.TrimPrefix(tok, OperatorTokenPrefix), ".")
	if !found || secret == "" || !ValidOperatorName(name) {
		return "", false
	}
	return name, true
}

// Operator is a named operator as listed (never its token).
type Operator struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

type operatorRecord struct {
	Operator
	TokenHash string `json:"token_hash"`
}

// UseStore turns on named operators kept in store (without it only the
// admin token is known). It returns a.
func (a *Admin) UseStore(store storage.Store) *Admin {
	a.store = store
	return a
}

type operatorKey struct{}

// WithOperator returns ctx carrying the authenticated operator's name.
func WithOperator(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, operatorKey{}, name)
}

// OperatorFrom returns the operator name ctx carries ("" for none).
func OperatorFrom(ctx context.Context) string {
	s, _ := ctx.Value(operatorKey{}).(string)
	return s
}

// Authenticate checks the request's bearer token and returns the name of
// the operator it belongs to: BootstrapOperator for the admin token, the
// operator's name for a named operator's token. Errors: ErrAdminDisabled
// (no admin token configured: the whole operator API is off),
// ErrMissingToken, ErrInvalidToken (wrong, unknown or removed).
func (a *Admin) Authenticate(r *http.Request) (string, error) {
	if !a.Enabled() {
		return "", ErrAdminDisabled
	}
	tok, ok := BearerToken(r)
	if !ok {
		return "", ErrMissingToken
	}
	if a.Check(tok) {
		return BootstrapOperator, nil
	}
	name, ok := ParseOperatorToken(tok)
	if a.store == nil || !ok {
		return "", ErrInvalidToken
	}
	rec, err := a.getOperator(r.Context(), name)
	if errors.Is(err, ErrOperatorNotFound) {
		return "", ErrInvalidToken
	}
	if err != nil {
		return "", err
	}
	if !gmcrypto.Equal([]byte(hashKey(tok)), []byte(rec.TokenHash)) {
		return "", ErrInvalidToken
	}
	return name, nil
}

func (a *Admin) getOperator(ctx context.Context, name string) (*operatorRecord, error) {
	if a.store == nil || !ValidOperatorName(name) {
		return nil, ErrOperatorNotFound
	}
	kv, err := a.store.Get(ctx, pfxOperators+name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrOperatorNotFound
	}
	if err != nil {
		return nil, err
	}
	var rec operatorRecord
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		return nil, fmt.Errorf("auth: corrupt operator record %s: %w", name, err)
	}
	return &rec, nil
}

// AddOperator adds the named operator on behalf of by (who must be the
// bootstrap operator: a named operator cannot mint a second identity,
// which would defeat dual control) and returns it with its token, which is
// not stored and cannot be shown again. Errors: ErrOperatorForbidden,
// ErrInvalidOperator, ErrOperatorExists.
func (a *Admin) AddOperator(ctx context.Context, by, name string) (*Operator, string, error) {
	if by != BootstrapOperator {
		return nil, "", ErrOperatorForbidden
	}
	if a.store == nil {
		return nil, "", fmt.Errorf("%w: no store for named operators", ErrInvalidConfig)
	}
	if !ValidOperatorName(name) {
		return nil, "", fmt.Errorf("%w: %q (1 to 32 of a-z, 0-9, '-', starting with a letter; not %q)",
			ErrInvalidOperator, name, BootstrapOperator)
	}
	raw, err := gmcrypto.RandomBytes(operatorSecretLen)
	if err != nil {
		return nil, "", err
	}
	tok := OperatorTokenPrefix + name + "." + keyEncoding.EncodeToString(raw)
	rec := operatorRecord{
		Operator:  Operator{Name: name, CreatedAt: time.Now().UTC().Truncate(time.Second), CreatedBy: by},
		TokenHash: hashKey(tok),
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, "", fmt.Errorf("auth: encode operator: %w", err)
	}
	op := rec.Operator
	_, err = audit.Commit(ctx, a.store, []storage.Op{
		storage.IfAbsent(pfxOperators + name),
		storage.Put(pfxOperators+name, b, 0),
	}, &op)
	if errors.Is(err, storage.ErrConflict) {
		return nil, "", fmt.Errorf("%w: %s", ErrOperatorExists, name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: store operator: %w", err)
	}
	return &op, tok, nil
}

// RemoveOperator removes a named operator (its token stops working at
// once, on every node); only the bootstrap operator may. Errors:
// ErrOperatorForbidden, ErrOperatorNotFound.
func (a *Admin) RemoveOperator(ctx context.Context, by, name string) (*Operator, error) {
	if by != BootstrapOperator {
		return nil, ErrOperatorForbidden
	}
	if a.store == nil || !ValidOperatorName(name) {
		return nil, ErrOperatorNotFound
	}
	kv, err := a.store.Get(ctx, pfxOperators+name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrOperatorNotFound
	}
	if err != nil {
		return nil, err
	}
	var rec operatorRecord
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		return nil, fmt.Errorf("auth: corrupt operator record %s: %w", name, err)
	}
	op := rec.Operator
	_, err = audit.Commit(ctx, a.store, []storage.Op{
		storage.IfRevision(pfxOperators+name, kv.Revision),
		storage.Delete(pfxOperators + name),
	}, &op)
	if errors.Is(err, storage.ErrConflict) {
		return nil, ErrOperatorNotFound
	}
	if err != nil {
		return nil, err
	}
	return &op, nil
}

// Operators lists the named operators, sorted by name (the bootstrap
// operator is not stored and not listed).
func (a *Admin) Operators(ctx context.Context) ([]*Operator, error) {
	if a.store == nil {
		return nil, nil
	}
	kvs, _, err := a.store.List(ctx, pfxOperators)
	if err != nil {
		return nil, err
	}
	out := make([]*Operator, 0, len(kvs))
	for _, kv := range kvs {
		var rec operatorRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return nil, fmt.Errorf("auth: corrupt operator record %s: %w", kv.Key, err)
		}
		op := rec.Operator
		out = append(out, &op)
	}
	return out, nil
}
