package ca_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// The issuance flow: an operator registers an SM2 CA and a user, the
// user's phone enrolls with the activation code and sets the PIN, asks for
// a signing credential, and signs with it; a portal verifies the
// certificate; the operator revokes it and the CRL lists it.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ca-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := storage.OpenBolt(storagetest.TestBoltConfig(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	master := bytes.Repeat([]byte{7}, 32) // in production: the master key file
	svc, err := ca.New(store, master, ca.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}

	// Operator: an internal SM2 root and a user.
	iss, err := svc.AddIssuer(ctx, ca.IssuerRequest{
		ID: "demo-sm2", Name: "Demo SM2 CA", Mode: ca.ModeInternal, Alg: gmcrypto.AlgSM2,
		Generate: true, Subject: ca.Subject{CommonName: "Demo SM2 Root", Country: "CN"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("issuer:", iss.ID, iss.Mode, iss.Alg, iss.Certificate.Subject.CommonName)
	user, code, err := svc.AddUser(ctx, ca.UserRequest{Name: "Zhang San", Organization: "Acme"})
	if err != nil {
		log.Fatal(err)
	}

	// Phone: enroll with the code, its own SM2 key and a PIN.
	devKey, _ := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	devPEM, _ := gmcrypto.MarshalPublicKeyPEM(devKey.Public())
	if _, _, err := svc.Enroll(ctx, code, devPEM, "my phone", "246810"); err != nil {
		log.Fatal(err)
	}
	_, _, err = svc.Enroll(ctx, code, devPEM, "again", "246810")
	fmt.Println("code reused:", errors.Is(err, ca.ErrActivationUsed))

	cred, err := svc.CreateCredential(ctx, ca.CredentialRequest{
		UserID: user.ID, IssuerID: iss.ID, Alg: gmcrypto.AlgSM2, Purpose: ca.PurposeSign, PIN: "246810",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("credential:", cred.Purpose, cred.State, cred.Certificate.Subject.CommonName)

	// Signing needs the PIN; the caller zeroes the key afterwards.
	key, _, err := svc.UnlockKey(ctx, user.ID, cred.ID, "246810")
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("bid: 1,000,000 CNY")
	sig, _ := gmcrypto.Sign(key, msg, nil)
	gmcrypto.ZeroKey(key)
	fmt.Println("signature verifies:", gmcrypto.Verify(cred.Certificate.PublicKey, msg, sig, nil) == nil)

	// Portal side: is this certificate good for signing?
	v, err := svc.Verify(ctx, []*smx509.Certificate{cred.Certificate}, ca.UsageSign, time.Now())
	fmt.Println("verified:", err == nil, v.IssuerID, v.UserID == user.ID)

	// Operator: revoke; Verify and the CRL agree.
	if _, err := svc.Revoke(ctx, cred.ID, "keyCompromise"); err != nil {
		log.Fatal(err)
	}
	_, err = svc.Verify(ctx, []*smx509.Certificate{cred.Certificate}, ca.UsageSign, time.Now())
	fmt.Println("after revocation:", errors.Is(err, ca.ErrCertificateRevoked))
	der, err := svc.CRL(ctx, iss.ID)
	if err != nil {
		log.Fatal(err)
	}
	crl, _ := smx509.ParseRevocationList(der)
	fmt.Println("CRL signed by the issuer:", crl.CheckSignatureFrom(iss.Certificate) == nil)
	fmt.Println("CRL lists it:", len(crl.RevokedCertificateEntries) == 1 &&
		crl.RevokedCertificateEntries[0].SerialNumber.Cmp(cred.Certificate.SerialNumber) == 0)

	// Output:
	// issuer: demo-sm2 internal SM2 Demo SM2 Root
	// code reused: true
	// credential: sign active Zhang San
	// signature verifies: true
	// verified: true demo-sm2 true
	// after revocation: true
	// CRL signed by the issuer: true
	// CRL lists it: true
}
