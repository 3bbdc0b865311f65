package api

import (
	"net/http"

	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// enrollResponse answers POST /v1/enroll.
type enrollResponse struct {
	User   *ca.User   `json:"user"`
	Device *ca.Device `json:"device"`
}

func (a *API) enroll(w http.ResponseWriter, r *http.Request) error {
	var req EnrollRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	u, d, err := a.ca.Enroll(r.Context(), req.ActivationCode, []byte(req.DevicePublicKey), req.DeviceName, req.PIN)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, enrollResponse{User: u, Device: d})
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
	return a.renderCredentials(w, r, f)
}

func (a *API) requestCredential(w http.ResponseWriter, r *http.Request) error {
	body, userID, err := a.device(w, r)
	if err != nil {
		return err
	}
	var req CredentialRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	c, err := a.ca.CreateCredential(r.Context(), ca.CredentialRequest{
		UserID:   userID,
		IssuerID: req.Issuer,
		Alg:      gmcrypto.Alg(req.Alg),
		RSABits:  req.RSABits,
		Purpose:  ca.Purpose(req.Purpose),
		PIN:      req.PIN,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, credentialResponse{Credential: c})
	return nil
}

func (a *API) changePIN(w http.ResponseWriter, r *http.Request) error {
	body, userID, err := a.device(w, r)
	if err != nil {
		return err
	}
	var req PINRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	if err := a.ca.ChangePIN(r.Context(), userID, req.OldPIN, req.NewPIN); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
