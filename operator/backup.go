package operator

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// PathBackup is the operator API's backup endpoint.
const PathBackup = "/v1/admin/backup"

// noTimeout is the client of Backup when HTTP is nil: a backup may take
// longer than the 60 s of the default client; ctx bounds it instead.
var noTimeout = &http.Client{}

// Backup streams a backup of the gateway's store (GET /v1/admin/backup)
// into w and returns the number of bytes written. It does not check the
// file: a stream cut short has no end line, which the backup package's
// Verify refuses, so check what was written before relying on it.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+PathBackup, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = noTimeout
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: GET %s: %w", ErrUnreachable, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, readAPIError(resp)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("%w: reading the backup: %w", ErrUnreachable, err)
	}
	return n, nil
}
