package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/ukeygate/ukeygate/storage"
)

// Outbox is told of every event a Service writes, while the write is being
// built, and answers with the writes (and conditions) that queue the event
// for delivery elsewhere: package webhook's outbox. They join the same
// store transaction as the event, so an event is stored if and only if its
// deliveries are; a condition that fails makes the Service build the
// transition again (as for any lost race). e carries the result in clear:
// the Outbox must keep it as safe as the Service keeps its own copy.
type Outbox interface {
	EventOps(ctx context.Context, s *Session, e Event) ([]storage.Op, error)
}

// outboxOps asks cfg.Outbox (if any) for the writes of event e of r, and
// returns them with the bytes they add to the transaction.
func (s *Service) outboxOps(ctx context.Context, r *record, e Event) ([]storage.Op, int, error) {
	if s.cfg.Outbox == nil {
		return nil, 0, nil
	}
	ops, err := s.cfg.Outbox.EventOps(ctx, &r.Session, e)
	if err != nil {
		return nil, 0, fmt.Errorf("session: queueing event %d of %s: %w", e.Seq, r.ID, err)
	}
	n := 0
	for _, op := range ops {
		n += len(op.Value)
	}
	return ops, n, nil
}

// outboxSize is the bytes cfg.Outbox adds to the completion of r with a
// result of resultLen bytes (a placeholder result of that length).
func (s *Service) outboxSize(ctx context.Context, r *record, resultLen int, ev Event) (int, error) {
	if s.cfg.Outbox == nil {
		return 0, nil
	}
	ev.Result = placeholderResult(resultLen)
	_, n, err := s.outboxOps(ctx, r, ev)
	return n, err
}

// placeholderMax is the length up to which placeholderResult shares one
// read-only buffer instead of allocating.
const placeholderMax = 64 << 10

// placeholderDigits is "1" and placeholderMax-1 zeros: each prefix of it
// is a JSON number, written as is wherever a result is embedded.
var placeholderDigits = sync.OnceValue(func() []byte {
	b := bytes.Repeat([]byte{'0'}, placeholderMax)
	b[0] = '1'
	return b
})

// placeholderResult is a JSON value of exactly n bytes (at least 2) that
// no encoder escapes or reformats (a number: "1" then zeros), so that it
// takes a result's place when only the size of what embeds it counts.
// It may be shared: callers must not change it.
func placeholderResult(n int) json.RawMessage {
	n = max(n, 2) // as the string placeholder it replaces: at least ""
	if n <= placeholderMax {
		return placeholderDigits()[:n:n]
	}
	b := bytes.Repeat([]byte{'0'}, n)
	b[0] = '1'
	return b
}
