package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/upload"
)

// PathUploads is where a portal uploads a PDF too large for a session
// request (POST, app key, the raw bytes as the body).
const PathUploads = "/v1/uploads"

// createUpload streams the body into the upload store: a PDF (it must
// start with %PDF-) of at most seals.upload_max_bytes.
func (a *API) createUpload(w http.ResponseWriter, r *http.Request) error {
	if a.uploads == nil {
		return ErrUploadsUnavailable
	}
	app, err := a.portalApp(r)
	if err != nil {
		return err
	}
	max := a.uploads.Config().MaxBytes
	if r.ContentLength > max {
		return fmt.Errorf("%w: %d bytes, at most %d (seals.upload_max_bytes)", upload.ErrTooLarge, r.ContentLength, max)
	}
	body := bufio.NewReader(r.Body)
	head, _ := body.Peek(5)
	if len(head) == 0 {
		return upload.ErrEmpty
	}
	if !bytes.Equal(head, []byte("%PDF-")) {
		return fmt.Errorf("%w: an upload is a PDF (it starts with %%PDF-)", seal.ErrBadPDF)
	}
	u, err := a.uploads.Put(r.Context(), app.ID, body)
	if err != nil {
		return bodyError(err)
	}
	w.Header().Set("Location", PathUploads+"/"+u.ID)
	writeJSON(w, http.StatusCreated, protocol.UploadCreated{
		ID: u.ID, SHA256: hex.EncodeToString(u.SHA256), Size: u.Size, ExpiresAt: u.ExpiresAt,
	})
	return nil
}

// bodyError names a body that broke off: too large for the server's
// limit, or too slow.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: the limit is %d bytes", upload.ErrTooLarge, mbe.Limit)
	case isTimeout(err):
		return fmt.Errorf("%w: the body did not arrive in time", ErrBodyTimeout)
	}
	return err
}

// uploadSource is the session package's view of the uploads: read and
// claimed at creation (session.UploadStore), read again at confirm
// (session.UploadSource).
type uploadSource struct{ uploads *upload.Service }

func (u uploadSource) ReadUpload(ctx context.Context, appID, sessionID, uploadID string) ([]byte, error) {
	if u.uploads == nil {
		return nil, ErrUploadsUnavailable
	}
	return u.uploads.Read(ctx, appID, sessionID, uploadID)
}

func (u uploadSource) OpenUpload(ctx context.Context, appID, uploadID string) ([]byte, error) {
	if u.uploads == nil {
		return nil, ErrUploadsUnavailable
	}
	pdf, _, err := u.uploads.Open(ctx, appID, uploadID)
	return pdf, err
}

func (u uploadSource) ClaimUpload(ctx context.Context, appID, uploadID, claim string) error {
	if u.uploads == nil {
		return ErrUploadsUnavailable
	}
	_, err := u.uploads.Claim(ctx, appID, uploadID, claim)
	return err
}

func (u uploadSource) BindUpload(ctx context.Context, appID, uploadID, claim, sessionID string) error {
	if u.uploads == nil {
		return ErrUploadsUnavailable
	}
	return u.uploads.Bind(ctx, appID, uploadID, claim, sessionID)
}

func (u uploadSource) ReleaseUpload(ctx context.Context, appID, uploadID, claim string) error {
	if u.uploads == nil {
		return ErrUploadsUnavailable
	}
	return u.uploads.Release(ctx, appID, uploadID, claim)
}

// UploadSessionEnded tells the upload sweeper whether a session has ended
// (upload.SessionEnded over sessions).
func UploadSessionEnded(sessions *session.Service) upload.SessionEnded {
	return func(ctx context.Context, id string) (bool, error) {
		s, err := sessions.Get(ctx, id)
		if err != nil {
			if errors.Is(err, session.ErrNotFound) {
				return true, nil
			}
			return false, err
		}
		return !s.Open(), nil
	}
}
