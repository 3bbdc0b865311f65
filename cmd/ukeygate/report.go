package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/ukeygate/ukeygate/protocol"
)

// The one voice of the command line: every command returns its error and
// report turns it into the single stderr line and the exit code, so that
// an unreachable server, a refusal by the server, a bad flag and a missing
// file read the same in every command group (operator, phone, portal,
// audit, bench).

// Exit codes (README "Commands").
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// report returns the line to print on stderr (without its newline) and the
// exit code for err, the error of cmd (the command that ran or failed to
// parse; nil means the root). started says whether the command got past
// argument parsing: any error before that is a usage error.
func report(cmd *cobra.Command, err error, started bool) (string, int) {
	var ue *usageError
	if errors.As(err, &ue) || !started {
		return fmt.Sprintf("ukeygate: %s (see '%s --help')", oneLine(err.Error()), helpPath(cmd)), exitUsage
	}
	if msg, ok := unreachable(err); ok {
		return "ukeygate: " + msg, exitFailure
	}
	if r, ok := asRefusal(err); ok {
		// Keep what the command said around the refusal ("scanned session
		// X: …"), and say the refusal itself one way.
		msg := err.Error()
		prefix := ""
		if i := strings.LastIndex(msg, r.raw); i > 0 && i+len(r.raw) == len(msg) {
			prefix = msg[:i]
		}
		return "ukeygate: " + oneLine(prefix+r.String()), exitFailure
	}
	if errors.Is(err, context.Canceled) {
		return "ukeygate: interrupted", exitFailure
	}
	return "ukeygate: " + oneLine(err.Error()), exitFailure
}

// helpPath is the command line that shows cmd's own help ("ukeygate phone
// confirm").
func helpPath(cmd *cobra.Command) string {
	if cmd == nil {
		return "ukeygate"
	}
	return cmd.CommandPath()
}

// refusal is an error answer of the server, whichever client got it.
type refusal struct {
	status        int
	code, message string
	raw           string // the client error's own text
}

func (r refusal) String() string {
	code := r.code
	if code == "" {
		code = "no error code"
	}
	msg := strings.TrimSpace(r.message)
	if msg == "" {
		msg = "(no message)"
	}
	return fmt.Sprintf("the server refused: %s [%s, HTTP %d]", msg, code, r.status)
}

// sentinelWords is the start of a server message that only names the
// package and kind of error ("protocol: invalid request: ").
var sentinelWords = regexp.MustCompile(`^([a-z][a-z ]*: )+$`)

// asRefusal finds a server refusal in err: the error answer of the
// operator client, the phone SDK or the portal SDK (all a
// protocol.APIError).
func asRefusal(err error) (refusal, bool) {
	var ae *protocol.APIError
	if !errors.As(err, &ae) {
		return refusal{}, false
	}
	msg := ae.Message
	if ae.Field != "" {
		// "protocol: invalid request: owner: not a user id…" reads as
		// "owner: not a user id…": the field at fault first, without the
		// server's package words before it (the code says the kind).
		if i := strings.Index(msg, ae.Field+": "); i > 0 && sentinelWords.MatchString(msg[:i]) {
			msg = msg[i:]
		} else if !strings.Contains(msg, ae.Field) {
			msg = ae.Field + ": " + msg
		}
	}
	if ae.RemainingTries != nil {
		msg += fmt.Sprintf(" (%d tries left before the PIN locks)", *ae.RemainingTries)
	}
	if ae.RetryAfterSeconds > 0 {
		msg += fmt.Sprintf(" (try again in %s)", time.Duration(ae.RetryAfterSeconds)*time.Second)
	}
	if ae.Reason != "" && !strings.Contains(msg, ae.Reason) {
		msg += " (" + ae.Reason + ")"
	}
	return refusal{ae.Status, ae.Code, msg, ae.Error()}, true
}

// unreachable says in one sentence why the server could not be reached,
// when err is a failure to connect rather than an answer.
func unreachable(err error) (string, bool) {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return "", false
	}
	if errors.Is(ue.Err, context.Canceled) {
		return "", false // Ctrl-C: reported as interrupted
	}
	where := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		where = u.Scheme + "://" + u.Host
	}
	var why string
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(ue.Err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.As(ue.Err, &dnsErr):
		why = "unknown host " + dnsErr.Name
	case ue.Timeout() || errors.Is(ue.Err, context.DeadlineExceeded) || errors.Is(ue.Err, os.ErrDeadlineExceeded):
		why = "no answer in time"
	case errors.Is(ue.Err, syscall.ECONNRESET), errors.Is(ue.Err, syscall.EPIPE):
		why = "the connection was cut"
	case errors.As(ue.Err, &opErr):
		why = opErr.Err.Error()
	default:
		why = oneLine(ue.Err.Error())
	}
	return fmt.Sprintf("cannot reach the server at %s: %s (is 'ukeygate serve' running there? choose the server with --server or %s)",
		where, why, envServer), true
}

// errFileNotFound is what reading a missing input file says.
var errFileNotFound = errors.New("file not found")

// readFile reads an input file; a missing one is "file not found: PATH".
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", errFileNotFound, path)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("cannot read %s: %v", path, pe.Err)
		}
		return nil, err
	}
	return b, nil
}

// writeOutput writes an output file; a missing directory is said in words.
func writeOutput(path string, data []byte, perm os.FileMode) error {
	err := os.WriteFile(path, data, perm)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot write %s: its directory does not exist", path)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("cannot write %s: %v", path, pe.Err)
		}
	}
	return err
}
