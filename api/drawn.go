package api

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"strings"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// A phone user's hand-drawn signature (手写签名), drawn with a finger in
// the phone web app and posted here (POST /v1/me/seals, device-signed),
// becomes a personal seal made by the issuer of the user's signing
// credential, when the operator's policy allows it (seals.drawn_signatures).

// DrawnSealConfig is the operator's policy for hand-drawn signatures.
type DrawnSealConfig struct {
	// Allow lets phone users add a hand-drawn signature as a personal seal.
	Allow bool
	// WidthMM is the printed width of a drawn signature; its height
	// follows the drawing's proportions (kept within the seal size
	// limits by scaling the whole).
	WidthMM float64
}

// Bounds of DrawnSealConfig.WidthMM.
const (
	MinDrawnWidthMM = 10
	MaxDrawnWidthMM = 80
)

// DefaultDrawnSealConfig forbids drawn signatures; when allowed they are
// printed 40 mm wide.
func DefaultDrawnSealConfig() DrawnSealConfig { return DrawnSealConfig{WidthMM: 40} }

// Validate names a value out of range.
func (c DrawnSealConfig) Validate() error {
	if c.WidthMM < MinDrawnWidthMM || c.WidthMM > MaxDrawnWidthMM {
		return fmt.Errorf("drawn signature width %g mm must be %d to %d", c.WidthMM, MinDrawnWidthMM, MaxDrawnWidthMM)
	}
	return nil
}

// DrawnSealRequest is the body of POST /v1/me/seals.
type DrawnSealRequest protocol.DrawnSealRequest

// Validate checks the request's shape; package ca checks the image.
func (q *DrawnSealRequest) Validate() error {
	if len(q.ImagePNG) == 0 {
		return invalid("image_png", "required (base64 of a transparent PNG)")
	}
	return firstError(maxChars("name", q.Name, maxNameLen))
}

// drawnSize is the printed size of a drawing of pw×ph pixels at width w
// mm: the proportions kept, the whole within the seal size limits.
func drawnSize(w float64, pw, ph int) (float64, float64, error) {
	h := w * float64(ph) / float64(pw)
	switch {
	case h < seal.MinSizeMM:
		w, h = seal.MinSizeMM*float64(pw)/float64(ph), seal.MinSizeMM
	case h > seal.MaxSizeMM:
		w, h = seal.MaxSizeMM*float64(pw)/float64(ph), seal.MaxSizeMM
	}
	if w < seal.MinSizeMM || w > seal.MaxSizeMM {
		return 0, 0, fmt.Errorf("%w: a drawing of %d×%d pixels is too long and thin for a seal", seal.ErrBadImage, pw, ph)
	}
	return w, h, nil
}

func (a *API) addDrawnSeal(w http.ResponseWriter, r *http.Request) error {
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	var req DrawnSealRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	entry := audit.Entry{Action: actionSealAdd, Actor: actorDevice(deviceID), UserID: userID}
	if !a.drawn.Allow {
		err := fmt.Errorf("%w: the operator does not allow hand-drawn signatures (seals.drawn_signatures)", ErrDrawnSealsDisabled)
		a.auditRefusal(r.Context(), entry, err)
		return err
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(req.ImagePNG))
	if err != nil || cfg.Width < 1 || cfg.Height < 1 {
		return fmt.Errorf("%w: not a PNG", seal.ErrBadImage)
	}
	wmm, hmm, err := drawnSize(a.drawn.WidthMM, cfg.Width, cfg.Height)
	if err != nil {
		return err
	}
	u, err := a.ca.User(r.Context(), userID)
	if err != nil {
		return err
	}
	// As stored (CreateSeal trims it), so that an earlier drawing of the
	// same name is found below.
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = u.Name + " 手写签名"
	}
	// The new drawing supersedes the user's earlier one of the same name,
	// revoked in the write that stores it (so it makes room under the cap
	// of active seals).
	earlier, err := a.ca.Seals(r.Context(), userID)
	if err != nil {
		return err
	}
	var replaces []string
	for _, e := range earlier {
		if e.Kind == seal.KindPersonal && e.Name == name && e.State == ca.SealActive {
			replaces = append(replaces, e.ID)
		}
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		sl := res.(*ca.Seal)
		d := "seal=" + sl.ID + " kind=personal drawn"
		if len(sl.Superseded) > 0 {
			d += " supersedes=" + strings.Join(sl.Superseded, ",")
		}
		return audit.Entry{Action: actionSealAdd, Actor: actorDevice(deviceID), UserID: userID, IssuerID: sl.IssuerID, Detail: d}
	})
	sl, err := a.ca.CreateSeal(ctx, ca.SealRequest{Owner: userID, Name: name, Kind: seal.KindPersonal,
		ImagePNG: req.ImagePNG, WidthMM: wmm, HeightMM: hmm, Replaces: replaces})
	if err != nil {
		a.auditRefusal(r.Context(), entry, err)
		return err
	}
	writeJSON(w, http.StatusCreated, wireSeal(sl))
	return nil
}
