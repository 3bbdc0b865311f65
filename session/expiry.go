package session

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// The expirer moves open sessions past their expiry time to expired, even
// when nobody watches them. Open sessions are indexed by the whole second
// they expire in (session-expiry/%012d/ID). Each run lists only the
// buckets of the seconds that passed since the previous run (an empty
// prefix list when there is nothing to do); a full sweep lists every due
// second since the epoch (duePrefixes; not the later seconds of sessions
// still waiting) at the first run, every Config.SweepInterval, and after a
// long pause. Several nodes may race on one session: the compare-and-swap makes
// exactly one of them write the expired event.

// maxBucketStep: beyond this many seconds since the last run, list the
// whole index instead of one prefix per second.
const maxBucketStep = 60

type expirerState struct {
	mu        sync.Mutex
	cursor    int64 // the first bucket not yet processed
	lastSweep time.Time
	swept     bool
}

func (s *Service) expireLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			_, _ = s.expirePass(s.ctx, false) // errors: the next full sweep retries
		}
	}
}

// duePrefixes returns the key prefixes that together cover the expiry
// buckets 0 to last and no other (a bucket is written with 12 digits), in
// key order: for each digit of last, the smaller digits after the same
// leading ones, then last's own bucket. They are at most 9 per digit.
func duePrefixes(last int64) []string {
	d := strconv.FormatInt(last, 10)
	if last < 0 || len(d) > bucketDigits {
		return []string{expiryPrefix} // outside the index's key format: list it all
	}
	d = strings.Repeat("0", bucketDigits-len(d)) + d
	var out []string
	for i := range len(d) {
		for c := byte('0'); c < d[i]; c++ {
			out = append(out, expiryPrefix+d[:i]+string(c))
		}
	}
	return append(out, expiryBucketPrefix(last))
}

// ExpireDue expires every open session whose expiry time has passed
// (a full pass over the expiry index, at the Service's clock) and returns
// how many it expired. The background expirer does the same on its own;
// tests with an injected clock call this instead of waiting.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	return s.expirePass(ctx, true)
}

func (s *Service) expirePass(ctx context.Context, full bool) (int, error) {
	s.exp.mu.Lock()
	defer s.exp.mu.Unlock()
	now := s.now()
	cur := now.Unix() // buckets <= cur are due; bucket cur+1 may be partly due
	st := &s.exp
	full = full || !st.swept || now.Sub(st.lastSweep) >= s.cfg.SweepInterval || cur-st.cursor > maxBucketStep
	var kvs []storage.KV
	if full {
		// Every due bucket, and none of the open sessions' later ones: a
		// sweep that read the whole index would read (and page in) every
		// waiting session's entry once a minute.
		for _, p := range duePrefixes(cur + 1) {
			l, _, err := s.store.List(ctx, p)
			if err != nil {
				return 0, err
			}
			kvs = append(kvs, l...)
		}
		st.swept, st.lastSweep = true, now
	} else {
		for b := st.cursor; b <= cur+1; b++ {
			l, _, err := s.store.List(ctx, expiryBucketPrefix(b))
			if err != nil {
				return 0, err
			}
			kvs = append(kvs, l...)
		}
	}
	n := 0
	var firstErr error
	for _, kv := range kvs {
		b, id, ok := parseExpiryKey(kv.Key)
		if !ok {
			continue
		}
		if b > cur+1 {
			break // sorted by bucket: the rest are not due yet
		}
		expired, err := s.expireOne(ctx, id, kv.Key)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if expired {
			n++
		}
	}
	if firstErr != nil {
		st.swept = false // retry everything on the next run
	} else if cur+1 > st.cursor {
		st.cursor = cur + 1
	}
	return n, firstErr
}

// expireOne expires session id if it is open and due. An index entry of a
// session that has ended or vanished is removed.
func (s *Service) expireOne(ctx context.Context, id, indexKey string) (bool, error) {
	stale := false
	_, err := s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		switch {
		case due(r, now):
			return "", errExpire
		case !r.Open():
			stale = true
		}
		return "", nil // open and not due (a clock ahead of ours): later
	})
	switch {
	case errors.Is(err, ErrExpired):
		return true, nil // this call wrote the expired event
	case errors.Is(err, ErrNotFound):
		stale = true
	case err != nil:
		return false, err
	}
	if stale {
		if _, err := s.store.Txn(ctx, storage.Delete(indexKey)); err != nil {
			return false, err
		}
	}
	return false, nil
}
