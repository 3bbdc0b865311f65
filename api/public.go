package api

import (
	"net/http"
	"strconv"
)

func (a *API) listIssuers(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	return a.renderIssuers(w, r)
}

func (a *API) issuerCertificate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	iss, err := a.ca.Issuer(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Length", strconv.Itoa(len(iss.CertificatePEM)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(iss.CertificatePEM))
	return nil
}

func (a *API) issuerCRL(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	der, err := a.ca.CRL(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Content-Length", strconv.Itoa(len(der)))
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(der)
	return nil
}
