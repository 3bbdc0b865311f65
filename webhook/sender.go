package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// leaseRecord is what the sender lease key holds.
type leaseRecord struct {
	Node string `json:"node"`
}

// isLeader reports whether this node may send now: it holds the lease and
// the lease has not run out by the local (monotonic) clock.
func (s *Service) isLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader && time.Now().Before(s.leaseUntil)
}

func (s *Service) setLeader(on bool, until time.Time) {
	s.mu.Lock()
	was := s.leader && time.Now().Before(s.leaseUntil)
	s.leader, s.leaseUntil = on, until
	s.mu.Unlock()
	s.m.setSender(on)
	if on && !was {
		s.log.Info("webhook: this node sends the deliveries", "node", s.node)
		s.kick()
		s.kickReminders()
	}
}

// leaseLoop takes and renews the sender lease every LeaseTTL/3.
func (s *Service) leaseLoop() {
	defer s.wg.Done()
	if s.cfg.SingleNode {
		s.setLeader(true, time.Now().Add(100*365*24*time.Hour))
		<-s.ctx.Done()
		return
	}
	for {
		s.tryLease()
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(s.cfg.LeaseTTL / 3):
		}
	}
}

// tryLease takes the lease if it is free, renews it if this node holds it.
// The lease counts from before the write, minus a quarter for clock
// drift, so this node stops sending before the store can hand the lease
// to another. An unreachable store keeps the lease until it runs out.
func (s *Service) tryLease() {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.LeaseTTL/2)
	defer cancel()
	start := time.Now()
	val := mustJSON(leaseRecord{Node: s.node})
	kv, err := s.store.Get(ctx, leaseKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		_, err = storage.Create(ctx, storeTxn{s.store}, leaseKey, val, s.cfg.LeaseTTL)
	case err == nil:
		var lr leaseRecord
		if json.Unmarshal(kv.Value, &lr) == nil && lr.Node != s.node {
			s.setLeader(false, time.Time{})
			return
		}
		_, err = storage.CompareAndSwap(ctx, storeTxn{s.store}, leaseKey, kv.Revision, val, s.cfg.LeaseTTL)
	}
	switch {
	case err == nil:
		s.setLeader(true, start.Add(s.cfg.LeaseTTL*3/4))
	case errors.Is(err, storage.ErrConflict):
		s.setLeader(false, time.Time{})
	default:
		s.mu.Lock()
		s.leader = s.leader && time.Now().Before(s.leaseUntil)
		s.mu.Unlock()
	}
}

// releaseLease deletes the lease if this node holds it.
func (s *Service) releaseLease() {
	if s.cfg.SingleNode {
		return
	}
	s.mu.Lock()
	held := s.leader
	s.leader = false
	s.mu.Unlock()
	if !held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	kv, err := s.store.Get(ctx, leaseKey)
	if err != nil {
		return
	}
	var lr leaseRecord
	if json.Unmarshal(kv.Value, &lr) == nil && lr.Node == s.node {
		_, _ = s.store.Txn(ctx, storage.IfRevision(leaseKey, kv.Revision), storage.Delete(leaseKey))
	}
}

// storeTxn adapts Store to the storage helpers (which take a whole
// storage.Store but only call Txn).
type storeTxn struct{ Store }

func (storeTxn) Ping(context.Context) error { return nil }
func (storeTxn) Close() error               { return nil }

// watchLoop wakes the sender on every change of the pending entries (an
// event queued on any node).
func (s *Service) watchLoop() {
	defer s.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		// Any change wakes the sender: no value is opened.
		ch, _, err := storage.WatchLazy(s.ctx, s.store, pendingPrefix)
		if err == nil {
			backoff = 50 * time.Millisecond
			s.kick() // changes before the watch opened
			for range ch {
				s.kick()
			}
		}
		if s.ctx.Err() != nil || errors.Is(err, storage.ErrClosed) {
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// scanGap bounds how often the sender lists the outbox while changes
// keep waking it (each attempt writes to the outbox, and a listing opens
// every pending entry): at most one listing per scanGap, the due entries
// it found handed out as attempts end.
const scanGap = 50 * time.Millisecond

// due is a pending entry found due by a listing.
type due struct {
	key, sess string
	ref       *pendingRef
}

// sendLoop looks at the outbox when woken (a change of the outbox, an
// attempt ended), when the next delivery falls due, and every
// PollInterval, and starts the attempts that are due.
func (s *Service) sendLoop() {
	defer s.wg.Done()
	s.wg.Add(1)
	go s.watchLoop()
	timer := time.NewTimer(s.cfg.PollInterval)
	defer timer.Stop()
	var queue []due
	var lastScan time.Time
	for {
		wait := s.cfg.PollInterval
		if s.isLeader() {
			if since := time.Since(lastScan); since >= scanGap {
				var next time.Duration
				queue, next = s.scan()
				lastScan = time.Now()
				wait = min(wait, next)
			} else {
				wait = min(wait, scanGap-since) // look again once the gap has passed
			}
			queue = s.start(queue)
		} else {
			queue = nil
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// scan lists the pending entries and returns the first entry of each
// session that is due, oldest session first, and how long until the next
// entry falls due.
func (s *Service) scan() ([]due, time.Duration) {
	wait := s.cfg.PollInterval
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.LeaseTTL)
	kvs, _, err := s.store.List(ctx, pendingPrefix)
	cancel()
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("webhook: listing the outbox", "err", err)
		}
		return nil, min(wait, time.Second)
	}
	now := s.now()
	seen := map[string]bool{}
	var out []due
	for _, kv := range kvs {
		sess, _, _ := strings.Cut(strings.TrimPrefix(kv.Key, pendingPrefix), "/")
		if seen[sess] {
			continue // only the first pending event of a session is sent
		}
		seen[sess] = true
		ref, err := decode[pendingRef](kv)
		if err != nil {
			s.log.Warn("webhook: damaged outbox entry", "key", kv.Key)
			continue
		}
		if d := ref.NextTryAt.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		out = append(out, due{key: kv.Key, sess: sess, ref: ref})
	}
	return out, wait
}

// start starts attempts for the queued entries, up to Workers in flight
// and one per session, and returns the entries left for later.
func (s *Service) start(queue []due) []due {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(queue) > 0 && len(s.inflight) < s.cfg.Workers {
		d := queue[0]
		queue = queue[1:]
		if s.inflight[d.sess] {
			continue // the next listing finds it again
		}
		s.inflight[d.sess] = true
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.attempt(d.key, d.ref)
			s.mu.Lock()
			delete(s.inflight, d.sess)
			s.mu.Unlock()
			s.kick()
		}()
	}
	return queue
}

// backoff is the delay after the attempt-th attempt: RetryMin doubled per
// earlier attempt, at most RetryMax, drawn between half and all of it.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.RetryMax
	if attempt <= 40 {
		if x := s.cfg.RetryMin << (attempt - 1); x > 0 && x < d {
			d = x
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// attempt sends the delivery of pending entry key once. It runs to its
// end even when the Service closes meanwhile (bounded by the timeout), so
// that a graceful stop does not leave an answered delivery unrecorded.
func (s *Service) attempt(key string, ref *pendingRef) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.Timeout+s.cfg.LeaseTTL)
	defer cancel()
	rec, rev, err := s.delivery(ctx, ref.App, ref.ID)
	if errors.Is(err, ErrDeliveryNotFound) {
		_, _ = s.store.Txn(ctx, storage.Delete(key)) // an entry without its record
		return
	}
	if err != nil {
		return
	}
	dk, _ := deliveryKey(rec.App, rec.ID)
	if rec.State != protocol.DeliveryPending {
		_, _ = s.store.Txn(ctx, storage.Delete(key))
		return
	}
	now := s.now()
	if rec.NextTryAt.After(now) {
		// Another attempt moved it on: let the entry say so.
		ref.NextTryAt = rec.NextTryAt
		_, _ = s.store.Txn(ctx, storage.IfRevision(dk, rev), storage.Put(key, mustJSON(ref), s.pendingTTL()))
		return
	}
	hook, _, err := s.hook(ctx, rec.App)
	if errors.Is(err, ErrNotFound) {
		rec.LastError = "the app has no webhook any more"
		s.finish(ctx, key, dk, rev, rec, false)
		return
	}
	if err != nil {
		return
	}
	bkv, err := s.store.Get(ctx, bodyKey(rec.ID))
	if errors.Is(err, storage.ErrNotFound) {
		rec.LastError = "the delivery's body is gone"
		s.finish(ctx, key, dk, rev, rec, false)
		return
	}
	if err != nil {
		return
	}
	// Record the attempt first: if this node dies while sending, the
	// delivery is due again at NextTryAt, and nobody else sends it before.
	rec.Attempts++
	rec.LastTryAt = now
	rec.NextTryAt = now.Add(s.backoff(rec.Attempts))
	ref.NextTryAt = rec.NextTryAt
	if !s.isLeader() {
		return
	}
	rev, err = s.store.Txn(ctx,
		storage.IfRevision(dk, rev),
		storage.Put(dk, mustJSON(rec), s.pendingTTL()),
		storage.Put(key, mustJSON(ref), s.pendingTTL()))
	if err != nil {
		return
	}
	status, errText := s.post(ctx, hook, rec.ID, bkv.Value)
	rec.LastStatus, rec.LastError = status, errText
	ok := status >= 200 && status < 300
	s.m.attempt(status, errText)
	if ok {
		rec.DeliveredAt = s.now()
		s.finish(ctx, key, dk, rev, rec, true)
		return
	}
	if rec.NextTryAt.Sub(rec.CreatedAt) > s.cfg.RetryFor {
		s.log.Warn("webhook: delivery failed for good", "app", rec.App, "delivery", rec.ID, "attempts", rec.Attempts, "last_error", errText, "last_status", status)
		s.finish(ctx, key, dk, rev, rec, false)
		return
	}
	_, _ = s.store.Txn(ctx, storage.IfRevision(dk, rev), storage.Put(dk, mustJSON(rec), s.pendingTTL()))
}

// finish records rec as delivered or failed and drops its pending entry.
func (s *Service) finish(ctx context.Context, key, dk string, rev int64, rec *deliveryRecord, delivered bool) {
	rec.State = protocol.DeliveryFailed
	if delivered {
		rec.State = protocol.DeliveryDelivered
	}
	rec.NextTryAt = time.Time{}
	_, err := s.store.Txn(ctx,
		storage.IfRevision(dk, rev),
		storage.Put(dk, mustJSON(rec), s.cfg.Retention),
		storage.Delete(key))
	if err != nil {
		return
	}
	if delivered {
		s.m.delivered()
	} else {
		s.m.failed()
	}
}

// post sends one attempt and returns the answer's status (0 for none) and
// what went wrong (empty for a 2xx).
func (s *Service) post(ctx context.Context, hook *hookRecord, id string, body []byte) (int, string) {
	ts := s.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "bad webhook URL"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ukeygate-webhook/1")
	req.Header.Set(protocol.HeaderWebhookDelivery, id)
	req.Header.Set(protocol.HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(protocol.HeaderWebhookSignature, protocol.SignWebhook(hook.Secret, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, describe(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, s.cfg.MaxResponseBytes))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return resp.StatusCode, "redirect not followed"
	}
	return resp.StatusCode, "status " + strconv.Itoa(resp.StatusCode)
}

// Attempt outcomes (LastError and the attempts metric's label).
const (
	outcomeTimeout = "timeout"
	outcomeRefused = "connection refused"
	outcomeTarget  = "target address not allowed"
)

// describe says briefly why an attempt got no answer.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrTargetNotAllowed):
		return outcomeTarget
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return outcomeTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return outcomeRefused
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return fmt.Sprintf("no answer: %s", msg)
}
