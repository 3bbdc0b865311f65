package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAdminAuthorize(t *testing.T) {
	const token = "0123456789abcdef-operator"
	tests := []struct {
		name   string
		admin  *Admin
		header string
		want   error
	}{
		{"right token", NewAdmin(token), "Bearer " + token, nil},
		{"scheme is case-insensitive", NewAdmin(token), "bearer " + token, nil},
		{"no header", NewAdmin(token), "", ErrMissingToken},
		{"empty bearer", NewAdmin(token), "Bearer ", ErrMissingToken},
		{"basic scheme", NewAdmin(token), "Basic " + token, ErrMissingToken},
		{"wrong token", NewAdmin(token), "Bearer 0123456789abcdef-operatoR", ErrInvalidToken},
		{"prefix of the token", NewAdmin(token), "Bearer 0123456789abcdef", ErrInvalidToken},
		{"operator API off", NewAdmin(""), "Bearer " + token, ErrAdminDisabled},
		{"operator API off, empty bearer", NewAdmin(""), "Bearer ", ErrAdminDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/admin/users", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			err := tt.admin.Authorize(r)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Authorize = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAdminKeepsNoToken(t *testing.T) {
	const token = "a-secret-admin-token-value"
	a := NewAdmin(token)
	if string(a.hash) == token || len(a.hash) != 32 {
		t.Fatalf("Admin keeps %q, want a 32-byte hash", a.hash)
	}
	if !a.Check(token) || a.Check("") || NewAdmin("").Check("") {
		t.Fatal("Check disagrees with the token")
	}
}
