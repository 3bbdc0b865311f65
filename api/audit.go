package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/protocol"
)

// Paging of GET /v1/admin/audit.
const (
	// DefaultAuditLimit is how many entries one answer holds when the
	// request gives no limit.
	DefaultAuditLimit = 1000
	// MaxAuditLimit is the largest limit= accepted.
	MaxAuditLimit = 10000
	// maxAuditFilterLen bounds each text filter.
	maxAuditFilterLen = 128
)

// auditFilter reads ?user=&session=&app=&action=&actor=&on_behalf_of=&since=&until=&after=&limit= .
func auditFilter(r *http.Request) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{Limit: DefaultAuditLimit}
	for k, v := range q {
		if len(v) > 1 {
			return f, invalid(k, "given more than once")
		}
		val := v[0]
		switch k {
		case "user", "session", "app", "action", "actor", "on_behalf_of":
			if len(val) > maxAuditFilterLen || !printableASCII(val) {
				return f, invalid(k, "must be at most %d printable ASCII characters", maxAuditFilterLen)
			}
			switch k {
			case "user":
				f.UserID = val
			case "session":
				f.SessionID = val
			case "app":
				f.AppID = val
			case "action":
				f.Action = val
			case "actor":
				f.Actor = val
			case "on_behalf_of":
				f.OnBehalfOf = val
			}
		case "since", "until":
			at, err := time.Parse(time.RFC3339, val)
			if err != nil {
				return f, invalid(k, "must be an RFC 3339 time (2026-01-02T15:04:05Z)")
			}
			if k == "since" {
				f.Since = at
			} else {
				f.Until = at
			}
		case "after":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return f, invalid(k, "must be a sequence number (0 or more)")
			}
			f.AfterSeq = n
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > MaxAuditLimit {
				return f, invalid(k, "must be 1 to %d", MaxAuditLimit)
			}
			f.Limit = n
		default:
			return f, invalid(k, "unknown query parameter")
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, invalid("until", "must be after since")
	}
	return f, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// auditLog returns the audit log, or ErrAuditUnavailable when the API was
// built without one.
func (a *API) auditLog() (*audit.Log, error) {
	if a.audit == nil {
		return nil, fmt.Errorf("%w: the server has no audit log", ErrAuditUnavailable)
	}
	return a.audit, nil
}

func (a *API) adminAudit(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	log, err := a.auditLog()
	if err != nil {
		return err
	}
	list, err := log.List(r.Context(), f)
	if err != nil {
		return err
	}
	resp := protocol.AuditPage{Entries: list}
	if resp.Entries == nil {
		resp.Entries = []audit.Entry{}
	}
	if len(list) == f.Limit {
		resp.NextAfter = list[len(list)-1].Seq
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) adminAuditVerify(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	log, err := a.auditLog()
	if err != nil {
		return err
	}
	rep, err := log.Verify(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.AuditVerification{Valid: true, Entries: rep.Entries, Head: rep.Head, FirstSeq: rep.FirstSeq, Archived: rep.Archived})
	return nil
}

// DefaultSegmentEntries is the size of a segment when the request names
// none.
const DefaultSegmentEntries = 10_000

// adminAuditSegment is GET /v1/admin/audit/segment?limit=N: the next
// segment to export (nothing is recorded; see adminAuditArchiveAdd).
func (a *API) adminAuditSegment(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	limit := DefaultSegmentEntries
	for k, v := range r.URL.Query() {
		if k != "limit" || len(v) != 1 {
			return invalid(k, "unknown or repeated query parameter")
		}
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > audit.MaxSegmentEntries {
			return invalid(k, "must be 1 to %d", audit.MaxSegmentEntries)
		}
		limit = n
	}
	log, err := a.auditLog()
	if err != nil {
		return err
	}
	seg, err := log.Segment(r.Context(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, seg)
	return nil
}

// adminAuditArchive is GET /v1/admin/audit/archive: the recorded anchors
// and where the live log starts.
func (a *API) adminAuditArchive(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	log, err := a.auditLog()
	if err != nil {
		return err
	}
	arch, err := log.Archived(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, arch)
	return nil
}

// anchorRequest is the body of POST /v1/admin/audit/archive.
type anchorRequest protocol.AuditAnchor

func (q *anchorRequest) Validate() error {
	switch {
	case q.FirstSeq < 1 || q.LastSeq < q.FirstSeq:
		return invalid("first_seq", "first_seq must be 1 or more and last_seq at least first_seq")
	case !isHex(q.Prev, 64) || !isHex(q.Head, 64) || !isHex(q.Seal, 64):
		return invalid("anchor", "prev, head and seal must be 64 hex digits")
	case q.ExportedAt.IsZero():
		return invalid("exported_at", "required")
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// adminAuditArchiveAdd is POST /v1/admin/audit/archive: the anchor of a
// segment that has been stored; its entries may now leave the live store
// once older than audit.retention.
func (a *API) adminAuditArchiveAdd(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	var q anchorRequest
	if err := a.decode(w, r, &q); err != nil {
		return err
	}
	log, err := a.auditLog()
	if err != nil {
		return err
	}
	// Recording a segment lets its entries leave the live store: who did
	// it is in the log, with the anchor's write.
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		an := res.(audit.Anchor)
		return audit.Entry{Action: actionAuditArchive, Actor: actorAdmin, Detail: archiveDetail(an)}
	})
	arch, err := log.Archive(ctx, protocol.AuditAnchor(q))
	if errors.Is(err, audit.ErrAnchor) {
		_, code, _ := lookupError(err)
		a.auditAction(r.Context(), audit.Entry{Action: actionAuditArchive, Actor: actorAdmin,
			Outcome: audit.OutcomeFailed, Detail: archiveDetail(audit.Anchor(q)) + " " + code})
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, arch)
	return nil
}

// actionAuditArchive is the audit action of recording an exported
// segment (POST /v1/admin/audit/archive).
const actionAuditArchive = audit.ActionArchive

// archiveDetail names a segment in its audit entry: the seqs it covers.
func archiveDetail(an audit.Anchor) string {
	return fmt.Sprintf("seq=%d-%d", an.FirstSeq, an.LastSeq)
}
