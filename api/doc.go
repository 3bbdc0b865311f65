// Package api is the HTTP face of ukeygate: every handler of the v1
// protocol (docs/protocol.md), with
//
//   - all routes registered in one place, routes.go;
//   - one function, writeError in errors.go, that turns every error into an
//     HTTP status, a stable snake_case code and a message, all listed in
//     docs/openapi.yaml (a test keeps the two in step);
//   - one JSON decoding path (decode.go): Content-Type check, body size
//     limit, unknown fields refused, trailing data refused, then the
//     request's own Validate.
//
// Handlers follow one shape: authenticate the caller, decode, Validate,
// authorize (is this the caller's resource), act through the services,
// audit (operator and enrollment actions, after they took effect; see
// lifecycle.go), and render.
//
// It must never hold business logic that belongs to ca, session or auth,
// nor show a caller an internal error's text: unknown errors are logged and
// answered with 500 "internal".
package api
