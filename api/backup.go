package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ukeygate/ukeygate/audit"
)

// Backuper writes a consistent backup of the store to w (package backup's
// format) and returns once the whole file is written.
type Backuper interface {
	WriteBackup(ctx context.Context, w io.Writer) error
}

// backupWriteTime is the write deadline a backup download gets instead of
// http.write_timeout, which is sized for API answers.
const backupWriteTime = 30 * time.Minute

// adminBackup streams a backup of the store. A failure after the first
// byte cannot change the status any more: it leaves the stream without its
// end line, which every reader of the format refuses.
func (a *API) adminBackup(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	for k := range r.URL.Query() {
		return invalid(k, "unknown query parameter")
	}
	if a.backup == nil {
		return ErrBackupUnavailable
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(backupWriteTime))
	cw := &countingWriter{w: w, header: func() {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
	}}
	err := a.backup.WriteBackup(r.Context(), cw)
	// A backup is a copy of every record (sealed): who took one, and
	// whether it was whole, is in the audit log.
	e := audit.Entry{Action: actionBackupExport, Actor: actorAdmin, Detail: fmt.Sprintf("bytes=%d", cw.n)}
	if err != nil {
		_, code, _ := lookupError(err)
		e.Outcome, e.Detail = audit.OutcomeFailed, e.Detail+" "+code
	}
	a.auditAction(r.Context(), e)
	if err != nil && cw.n > 0 {
		a.log.Error("backup stopped after its first bytes", "err", err)
		return nil
	}
	return err
}

// actionBackupExport is the audit action of a backup download
// (GET /v1/admin/backup).
const actionBackupExport = "backup.export"

// countingWriter counts what it writes and calls header before the first
// byte.
type countingWriter struct {
	w      io.Writer
	n      int64
	header func()
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.n == 0 && c.header != nil {
		c.header()
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
