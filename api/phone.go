package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/protocol"
)

func (a *API) enroll(w http.ResponseWriter, r *http.Request) error {
	var req EnrollRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		e := res.(*ca.Enrolled)
		detail := "pin=current" // a further device proved the current PIN
		if e.FirstDevice {
			detail = "pin=set" // the first device sets the PIN
		}
		if len(e.Reissued) > 0 {
			detail += " reissued=" + strings.Join(e.Reissued, ",") // after a PIN reset
		}
		return audit.Entry{Action: actionDeviceEnroll, Actor: actorDevice(e.DeviceID), UserID: e.UserID, Detail: detail}
	})
	u, d, err := a.ca.Enroll(ctx, req.ActivationCode, []byte(req.DevicePublicKey), req.DeviceName, req.PIN)
	var re *ca.ReenrollError
	if errors.As(err, &re) {
		// A wrong current PIN for a further device (the code is valid).
		a.auditRefusal(r.Context(), audit.Entry{Action: actionDeviceEnroll, Actor: actorActivation, UserID: re.UserID}, err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, protocol.Enrollment{User: *u, Device: wireDevice(d)})
	return nil
}

// device reads the body and checks the device signature over it; it
// returns the body and the device's user.
func (a *API) device(w http.ResponseWriter, r *http.Request) (body []byte, userID string, err error) {
	body, err = a.readBody(w, r)
	if err != nil {
		return nil, "", err
	}
	_, userID, err = a.devices.VerifyDeviceRequest(r.Context(), r, body)
	if err != nil {
		return nil, "", err
	}
	return body, userID, nil
}

func (a *API) myCredentials(w http.ResponseWriter, r *http.Request) error {
	_, userID, err := a.device(w, r)
	if err != nil {
		return err
	}
	f, err := credentialFilter(r)
	if err != nil {
		return err
	}
	if f.UserID != "" && f.UserID != userID {
		return invalid("user", "a device lists its own user's credentials only")
	}
	f.UserID = userID
	list, err := a.ca.Credentials(r.Context(), f)
	if err != nil {
		return err
	}
	drawn := a.drawn.Allow
	writeJSON(w, http.StatusOK, protocol.CredentialList{Credentials: wireCredentials(list), DrawnSignatures: &drawn})
	return nil
}

func (a *API) requestCredential(w http.ResponseWriter, r *http.Request) error {
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	var req CredentialRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		c := res.(*ca.Credential)
		return audit.Entry{Action: actionCredentialCreate, Actor: actorDevice(deviceID), UserID: userID, IssuerID: req.Issuer,
			CredentialID: c.ID, Detail: string(c.Alg) + " " + string(c.Purpose) + " " + string(c.State)}
	})
	c, err := a.ca.CreateCredential(ctx, ca.CredentialRequest{
		UserID:   userID,
		IssuerID: req.Issuer,
		Alg:      gmcrypto.Alg(req.Alg),
		RSABits:  req.RSABits,
		Purpose:  ca.Purpose(req.Purpose),
		PIN:      req.PIN,
		Cosign:   req.Cosign,
		DeviceID: deviceID,
	})
	entry := audit.Entry{Action: actionCredentialCreate, Actor: actorDevice(deviceID), UserID: userID, IssuerID: req.Issuer}
	if err != nil {
		a.auditRefusal(r.Context(), entry, err)
		return err
	}
	status := http.StatusCreated
	if c.Repeated {
		// A cosign request repeated by the phone whose first answer was
		// lost: the same credential, nothing new (nor audited).
		status = http.StatusOK
	}
	writeJSON(w, status, wireCredentialCreated(c))
	return nil
}

// CosignCSRRequest is the body of POST /v1/me/credentials/{id}/cosign:
// the phone's answer to the CSR challenge of a cosign credential at an
// external issuer.
type CosignCSRRequest struct {
	Cosign *cosign.Answer `json:"cosign"`
}

// Validate checks the request's shape.
func (q *CosignCSRRequest) Validate() error {
	if q.Cosign == nil || len(q.Cosign.Sign) != 1 {
		return invalid("cosign", "one signature answers a CSR challenge")
	}
	return nil
}

func (a *API) cosignCSR(w http.ResponseWriter, r *http.Request) error {
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req CosignCSRRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	entry := audit.Entry{Action: actionCredentialCreate, Actor: actorDevice(deviceID), UserID: userID, CredentialID: id}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		e := entry
		e.IssuerID, e.Detail = res.(*ca.Credential).IssuerID, "cosign CSR signed two-party"
		return e
	})
	c, err := a.ca.FinishCosignCSR(ctx, userID, id, req.Cosign)
	if err != nil {
		a.auditRefusal(r.Context(), entry, err)
		return err
	}
	writeJSON(w, http.StatusOK, wireCredentialCreated(c))
	return nil
}

func (a *API) changePIN(w http.ResponseWriter, r *http.Request) error {
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	var req PINRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	entry := audit.Entry{Action: actionPINChange, Actor: actorDevice(deviceID), UserID: userID}
	ctx := a.audited(r.Context(), func(any) audit.Entry { return entry })
	if err := a.ca.ChangePINCosign(ctx, userID, req.OldPIN, req.NewPIN, req.Cosign); err != nil {
		a.auditRefusal(r.Context(), entry, err)
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
