package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/ukeygate/ukeygate/protocol"
)

// UploadCreated is the answer of POST /v1/uploads.
type UploadCreated = protocol.UploadCreated

// SealedPDFDoc is one sealed PDF of a SealResult; Assemble gives the
// whole sealed PDF from the original bytes when it was sent as an upload.
type SealedPDFDoc = protocol.SealedPDFDoc

// Upload sends a PDF to the gateway (POST /v1/uploads) to name it in a
// seal session's document as Upload instead of PDF, for documents larger
// than a session request may carry (session.max_data_bytes). The upload is
// this app's, serves one session and expires if no session names it in
// time (seals.upload_ttl). The answer's SHA-256 is checked against pdf.
func (c *Client) Upload(ctx context.Context, pdf []byte) (*UploadCreated, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	u, err := c.resolve("/v1/uploads")
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(pdf))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.AppKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("portal: POST %s: %w", u.Path, err)
	}
	defer resp.Body.Close()
	var out UploadCreated
	if err := decodeResponse(resp, &out); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pdf)
	if out.ID == "" || out.SHA256 != hex.EncodeToString(sum[:]) || out.Size != int64(len(pdf)) {
		return nil, fmt.Errorf("%w: the gateway did not receive the PDF as sent", ErrProtocol)
	}
	return &out, nil
}

// uploadLarge returns docs (a copy, when it changes any) with every PDF
// uploaded and named by id if together they exceed InlinePDFBytes.
func (c *Client) uploadLarge(ctx context.Context, docs []Document) ([]Document, error) {
	limit := c.InlinePDFBytes
	if limit <= 0 {
		limit = DefaultInlinePDFBytes
	}
	total := 0
	for _, d := range docs {
		total += len(d.PDF)
	}
	if total <= limit {
		return docs, nil
	}
	out := append([]Document(nil), docs...)
	for i := range out {
		if len(out[i].PDF) == 0 {
			continue
		}
		up, err := c.Upload(ctx, out[i].PDF)
		if err != nil {
			return nil, err
		}
		out[i].PDF, out[i].Upload = nil, up.ID
	}
	return out, nil
}
