package protocol_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

func TestParseAPIError(t *testing.T) {
	two := 2
	tests := []struct {
		name   string
		status int
		body   string
		want   protocol.APIError
	}{
		{"envelope", 410, `{"error":{"code":"session_expired","message":"gone"}}`,
			protocol.APIError{Status: 410, Code: protocol.CodeSessionExpired, Message: "gone"}},
		{"field", 400, `{"error":{"code":"invalid_request","message":"m","field":"pin"}}`,
			protocol.APIError{Status: 400, Code: protocol.CodeInvalidRequest, Message: "m", Field: "pin"}},
		{"wrong pin", 403, `{"error":{"code":"wrong_pin","message":"m","remaining_tries":2}}`,
			protocol.APIError{Status: 403, Code: protocol.CodeWrongPIN, Message: "m", RemainingTries: &two}},
		{"proxy page", 502, "<html>bad gateway</html>\n",
			protocol.APIError{Status: 502, Message: "<html>bad gateway</html>"}},
		{"empty", 503, "", protocol.APIError{Status: 503, Message: "Service Unavailable"}},
		{"envelope without code", 500, `{"error":{"message":"x"}}`,
			protocol.APIError{Status: 500, Message: `{"error":{"message":"x"}}`}},
		{"long body", 500, strings.Repeat("x", 300),
			protocol.APIError{Status: 500, Message: strings.Repeat("x", 200) + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := protocol.ParseAPIError(tt.status, []byte(tt.body))
			if !equalAPIError(got, &tt.want) {
				t.Fatalf("got %+v, want %+v", *got, tt.want)
			}
			wrapped := fmt.Errorf("scan: %w", got)
			if protocol.ErrorCode(wrapped) != tt.want.Code || (tt.want.Code != "") != protocol.IsCode(wrapped, tt.want.Code) {
				t.Fatalf("ErrorCode %q IsCode %v", protocol.ErrorCode(wrapped), protocol.IsCode(wrapped, tt.want.Code))
			}
			if !strings.Contains(got.Error(), fmt.Sprint(tt.status)) {
				t.Fatalf("Error() %q does not name the status", got.Error())
			}
		})
	}
	if protocol.ErrorCode(errors.New("x")) != "" || protocol.IsCode(nil, "") {
		t.Fatal("a non-API error has a code")
	}
	if !(&protocol.APIError{Status: http.StatusTooManyRequests}).Temporary() || (&protocol.APIError{Status: 409}).Temporary() {
		t.Fatal("Temporary")
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func equalAPIError(a, b *protocol.APIError) bool {
	return a.Status == b.Status && a.Code == b.Code && a.Message == b.Message && a.Field == b.Field &&
		a.Reason == b.Reason && a.RetryAfterSeconds == b.RetryAfterSeconds && deref(a.RemainingTries) == deref(b.RemainingTries)
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"iss_0a1b": true, "a": true, strings.Repeat("z", 64): true, "x-y_z9": true,
		"": false, strings.Repeat("z", 65): false, "Iss": false, "a b": false, "a/b": false, "é": false,
	} {
		if protocol.ValidID(id) != want {
			t.Errorf("ValidID(%q) = %v", id, !want)
		}
	}
}
