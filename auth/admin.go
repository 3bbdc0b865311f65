package auth

import (
	"net/http"
	"strings"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// Admin checks the operator's admin token. It keeps only the token's SM3
// hash.
type Admin struct {
	hash []byte // nil: the operator API is off
	// store keeps the named operators (operators.go); nil: only the
	// admin token is known.
	store storage.Store
}

// NewAdmin returns an Admin for token; an empty token turns the operator
// API off (every check fails with ErrAdminDisabled).
func NewAdmin(token string) *Admin {
	if token == "" {
		return &Admin{}
	}
	return &Admin{hash: gmcrypto.SM3([]byte(token))}
}

// Enabled reports whether the operator API is on.
func (a *Admin) Enabled() bool { return a != nil && a.hash != nil }

// Check reports whether presented is the admin token, in time independent
// of where they differ. It is false when the operator API is off.
func (a *Admin) Check(presented string) bool {
	if !a.Enabled() || presented == "" {
		return false
	}
	return gmcrypto.Equal(gmcrypto.SM3([]byte(presented)), a.hash)
}

// Authorize checks the request's "Authorization: Bearer <token>" header:
// the admin token or a named operator's (Authenticate). It returns nil,
// ErrAdminDisabled, ErrMissingToken or ErrInvalidToken.
func (a *Admin) Authorize(r *http.Request) error {
	_, err := a.Authenticate(r)
	return err
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header (the scheme is case-insensitive) and whether there was one.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
