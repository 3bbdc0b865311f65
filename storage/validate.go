package storage

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits every Store implementation enforces, so that a caller sees the same
// ErrInvalid whatever the backend.
const (
	// MaxKeyLen is the longest key (and List/Watch prefix) in bytes.
	MaxKeyLen = 1024
	// MaxValueLen is the largest value in bytes (8 MiB).
	MaxValueLen = 8 << 20
	// MaxTxnOps is the largest number of operations in one transaction.
	MaxTxnOps = 128
	// MaxTTL is the longest TTL a Put may carry.
	MaxTTL = 100 * 365 * 24 * time.Hour
)

// ValidateKey reports, as an error wrapping ErrInvalid, why key cannot be
// stored: it must be non-empty valid UTF-8 of at most MaxKeyLen bytes
// without NUL.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalid)
	}
	return validateKeyText("key", key)
}

// ValidatePrefix checks a List or Watch prefix like ValidateKey, except that
// the empty prefix (every key) is allowed.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return validateKeyText("prefix", prefix)
}

func validateKeyText(what, s string) error {
	switch {
	case len(s) > MaxKeyLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, what, MaxKeyLen)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%w: %s contains NUL", ErrInvalid, what)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	return nil
}

// ValidateTxn checks the operations of one transaction and reports the first
// problem as an error wrapping ErrInvalid: no operations (or more than
// MaxTxnOps), an Op not built by Put/Delete/IfRevision/IfAbsent, a bad key,
// a value over MaxValueLen, a TTL outside [0, MaxTTL] or revision, or two writes to the
// same key.
func ValidateTxn(ops []Op) error {
	if len(ops) == 0 {
		return fmt.Errorf("%w: empty transaction", ErrInvalid)
	}
	if len(ops) > MaxTxnOps {
		return fmt.Errorf("%w: transaction has %d operations, at most %d allowed", ErrInvalid, len(ops), MaxTxnOps)
	}
	// Two writes of one key: a small transaction (every one a session
	// makes) compares each write with the ops before it, allocating
	// nothing; a large one keeps the keys written in a map.
	var written map[string]bool
	for i, op := range ops {
		if err := ValidateKey(op.Key); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
		switch {
		case op.IsPut():
			if len(op.Value) > MaxValueLen {
				return fmt.Errorf("%w: op %d: value of %d bytes exceeds %d", ErrInvalid, i, len(op.Value), MaxValueLen)
			}
			if op.TTL < 0 || op.TTL > MaxTTL {
				return fmt.Errorf("%w: op %d: TTL %s outside [0, %s]", ErrInvalid, i, op.TTL, MaxTTL)
			}
		case op.IsDelete():
		case op.IsCondition():
			if op.Revision < 0 {
				return fmt.Errorf("%w: op %d: negative revision %d", ErrInvalid, i, op.Revision)
			}
			continue
		default:
			return fmt.Errorf("%w: op %d: unknown operation kind %d", ErrInvalid, i, op.Kind)
		}
		if len(ops) <= smallTxnOps {
			for _, prev := range ops[:i] {
				if prev.IsWrite() && prev.Key == op.Key {
					return fmt.Errorf("%w: op %d: key written twice in one transaction", ErrInvalid, i)
				}
			}
			continue
		}
		if written == nil {
			written = make(map[string]bool, len(ops))
		}
		if written[op.Key] {
			return fmt.Errorf("%w: op %d: key written twice in one transaction", ErrInvalid, i)
		}
		written[op.Key] = true
	}
	return nil
}

// smallTxnOps is the most ops ValidateTxn checks for twice-written keys
// by comparing them with one another instead of in a map.
const smallTxnOps = 16
