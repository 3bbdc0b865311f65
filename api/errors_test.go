package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

func TestWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		status   int
		code     string
		msgHas   string // the message contains this
		msgLacks string // and never this
		logged   bool
		check    func(t *testing.T, d protocol.ErrorBody, h http.Header)
	}{
		{name: "unknown error", err: errors.New("open /var/lib/ukeygate/secret: permission denied"),
			status: 500, code: "internal", msgLacks: "/var/lib", logged: true},
		{name: "store down", err: fmt.Errorf("auth: device lookup: %w: dial 10.0.0.7:2379", storage.ErrUnavailable),
			status: 503, code: "unavailable", msgLacks: "10.0.0.7", logged: true},
		{name: "ca field error", err: &ca.RequestError{Field: "device_name", Reason: "too long"},
			status: 400, code: "invalid_request", msgHas: "device_name",
			check: func(t *testing.T, d protocol.ErrorBody, _ http.Header) {
				if d.Field != "device_name" {
					t.Errorf("field %q", d.Field)
				}
			}},
		{name: "api field error", err: invalid("name", "required"), status: 400, code: "invalid_request",
			check: func(t *testing.T, d protocol.ErrorBody, _ http.Header) {
				if d.Field != "name" {
					t.Errorf("field %q", d.Field)
				}
			}},
		{name: "wrong PIN", err: &ca.PINError{Remaining: 3}, status: 403, code: "wrong_pin",
			check: func(t *testing.T, d protocol.ErrorBody, _ http.Header) {
				if d.RemainingTries == nil || *d.RemainingTries != 3 {
					t.Errorf("remaining_tries %v", d.RemainingTries)
				}
			}},
		{name: "wrong PIN, last try", err: &ca.PINError{Remaining: 0}, status: 403, code: "wrong_pin",
			check: func(t *testing.T, d protocol.ErrorBody, _ http.Header) {
				if d.RemainingTries == nil || *d.RemainingTries != 0 {
					t.Errorf("remaining_tries %v", d.RemainingTries)
				}
			}},
		{name: "PIN locked", err: &ca.PINError{Locked: true, RetryAfter: 90*time.Second + time.Millisecond}, status: 423, code: "pin_locked",
			check: func(t *testing.T, d protocol.ErrorBody, h http.Header) {
				if d.RetryAfterSeconds != 91 || h.Get("Retry-After") != "91" {
					t.Errorf("retry after %d / %q", d.RetryAfterSeconds, h.Get("Retry-After"))
				}
			}},
		{name: "missing token", err: auth.ErrMissingToken, status: 401, code: "missing_token",
			check: func(t *testing.T, _ protocol.ErrorBody, h http.Header) {
				if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
					t.Error("no WWW-Authenticate")
				}
			}},
		{name: "ca error wrapping a storage conflict", err: fmt.Errorf("%w: %w", ca.ErrConflict, storage.ErrConflict),
			status: 409, code: "conflict"},
		{name: "a rotation's move stopped by the store", err: fmt.Errorf("%w: rot_x is moving: %w: dial 10.0.0.7:2379", ca.ErrRotationMoveIncomplete, storage.ErrUnavailable),
			status: 503, code: "rotation_move_incomplete", msgLacks: "10.0.0.7", logged: true},
		{name: "malformed PEM also wrapping gmcrypto", err: fmt.Errorf("%w: x: %w", ca.ErrMalformedPEM, errors.New("crypto: malformed")),
			status: 400, code: "malformed_pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := &API{
				log:    slog.New(slog.NewTextHandler(&logs, nil)),
				errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"code"}),
			}
			w := httptest.NewRecorder()
			a.writeError(w, httptest.NewRequest("GET", "/v1/x", nil), tt.err)
			var body protocol.ErrorEnvelope
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			d := body.Error
			if w.Code != tt.status || d.Code != tt.code || d.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", w.Code, d, tt.status, tt.code)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.msgHas != "" && !strings.Contains(d.Message, tt.msgHas) {
				t.Errorf("message %q lacks %q", d.Message, tt.msgHas)
			}
			if tt.msgLacks != "" && strings.Contains(d.Message, tt.msgLacks) {
				t.Errorf("message %q leaks %q", d.Message, tt.msgLacks)
			}
			if tt.logged != (logs.Len() > 0) {
				t.Errorf("logged %v: %q", logs.Len() > 0, logs.String())
			}
			if tt.logged && tt.msgLacks != "" && !strings.Contains(logs.String(), tt.msgLacks) {
				t.Errorf("the log lacks the cause: %q", logs.String())
			}
			if tt.check != nil {
				tt.check(t, d, w.Header())
			}
		})
	}
}
