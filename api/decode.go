package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
)

// validator is every request body type: Validate checks the fields after
// decoding and returns a *FieldError (or nil).
type validator interface {
	Validate() error
}

// readBody reads the whole request body, at most a.maxBody bytes
// (ErrBodyTooLarge beyond).
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > a.maxBody {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBodyTooLarge, r.ContentLength, a.maxBody)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, fmt.Errorf("%w: the limit is %d bytes", ErrBodyTooLarge, a.maxBody)
	}
	if err != nil {
		// The error names the connection's addresses: never repeat it.
		if isTimeout(err) {
			return nil, fmt.Errorf("%w: the body did not arrive in time", ErrBodyTimeout)
		}
		return nil, fmt.Errorf("%w: the body could not be read to its end", ErrMalformedJSON)
	}
	return b, nil
}

// isTimeout reports whether a body read failed on the connection's read
// deadline (http.read_timeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// decode reads r's body as JSON into v and validates it.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v validator) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeBody(r.Header.Get("Content-Type"), body, v)
}

// decodeBody decodes one JSON object from body into v, refusing a wrong
// Content-Type, unknown fields and trailing data, then calls v.Validate.
func decodeBody(contentType string, body []byte, v validator) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w (got %q)", ErrUnsupportedMediaType, contentType)
	}
	if err := unmarshalStrict(body, v); err != nil {
		return err
	}
	return v.Validate()
}

// unmarshalStrict decodes exactly one JSON value of v's shape from body.
func unmarshalStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: empty body", ErrMalformedJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformedJSON)
	}
	return nil
}

// jsonError classifies an encoding/json error.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &FieldError{Field: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), Reason: "not a field of this request", Err: ErrUnknownField}
	case errors.As(err, &se):
		return fmt.Errorf("%w: syntax error at byte %d", ErrMalformedJSON, se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fmt.Errorf("%w: want a JSON object", ErrMalformedJSON)
		}
		return fmt.Errorf("%w: field %s: want %s, got %s", ErrMalformedJSON, field, te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: unexpected end of input", ErrMalformedJSON)
	default:
		return fmt.Errorf("%w: %v", ErrMalformedJSON, err)
	}
}

// writeJSON renders v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
