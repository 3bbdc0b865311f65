package api

import (
	"fmt"
	"net/http"
	"strconv"

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

// auditFilter reads ?user=&session=&app=&action=&on_behalf_of=&after=&limit= .
func auditFilter(r *http.Request) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{Limit: DefaultAuditLimit}
	for k, v := range q {
		if len(v) > 1 {
			return f, invalid(k, "given more than once")
		}
		val := v[0]
		switch k {
		case "user", "session", "app", "action", "on_behalf_of":
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
			case "on_behalf_of":
				f.OnBehalfOf = val
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
	if len(r.URL.Query()) > 0 {
		for k := range r.URL.Query() {
			return invalid(k, "unknown query parameter")
		}
	}
	log, err := a.auditLog()
	if err != nil {
		return err
	}
	rep, err := log.Verify(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.AuditVerification{Valid: true, Entries: rep.Entries, Head: rep.Head})
	return nil
}
