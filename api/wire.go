package api

import (
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
)

// The answers' wire types are package protocol's (one definition, read by
// the SDKs and the operator client too); these functions turn the domain
// values into them. Lists are never null on the wire.

// wireCredential is a credential as the API answers it.
func wireCredential(c *ca.Credential) protocol.Credential {
	return protocol.Credential{
		ID: c.ID, User: c.UserID, Issuer: c.IssuerID, Alg: string(c.Alg), RSABits: c.RSABits,
		Purpose: string(c.Purpose), State: string(c.State),
		CertificatePEM: c.CertificatePEM, CSRPEM: c.CSRPEM, Serial: c.Serial,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, CreatedAt: c.CreatedAt,
		RevokedAt: c.RevokedAt, RevocationReason: c.RevocationReason,
		Mode: c.Mode, HolderDevice: c.HolderDevice, KeyGenCommit: c.KeyGenCommit, Cosign: c.CosignChallenge,
		Supersedes: c.Supersedes, SupersededBy: c.SupersededBy, SupersededAt: c.SupersededAt,
		RenewalPending: c.RenewalPending,
		Escrowed:       c.Escrowed, AwaitingRecovery: c.AwaitingRecovery,
	}
}

// wireCredentials is wireCredential of each of list.
func wireCredentials(list []*ca.Credential) []protocol.Credential {
	out := make([]protocol.Credential, 0, len(list))
	for _, c := range list {
		out = append(out, wireCredential(c))
	}
	return out
}

// wireCredentialCreated answers the creation or a change of one credential.
func wireCredentialCreated(c *ca.Credential) protocol.CredentialCreated {
	w := wireCredential(c)
	return protocol.CredentialCreated{Credential: &w}
}

// wireIssuer is an issuer as the API answers it.
func wireIssuer(iss *ca.Issuer) protocol.Issuer {
	p := iss.Profile
	prof := protocol.Profile{ValidityDays: p.ValidityDays, RSABits: p.RSABits, SubjectFields: p.SubjectFields, RenewalKey: p.RenewalKey, Escrow: p.Escrow}
	for _, a := range p.Algs {
		prof.Algs = append(prof.Algs, string(a))
	}
	for _, u := range p.Purposes {
		prof.Purposes = append(prof.Purposes, string(u))
	}
	return protocol.Issuer{
		ID: iss.ID, Name: iss.Name, Mode: string(iss.Mode), Alg: string(iss.Alg),
		CertificatePEM: iss.CertificatePEM, Parent: iss.Parent, Profile: prof, Subject: iss.Subject,
		NotBefore: iss.NotBefore, NotAfter: iss.NotAfter, CreatedAt: iss.CreatedAt,
	}
}

// wireApp is an app; key (the app key) is given only when it was just
// made.
func wireApp(app *auth.App, key string) protocol.App {
	origins := app.Origins
	if origins == nil {
		origins = []string{}
	}
	return protocol.App{ID: app.ID, Name: app.Name, Origins: origins, CreatedAt: app.CreatedAt, APIKey: key,
		KeyRotatedAt: app.KeyRotatedAt, DisabledAt: app.DisabledAt}
}

// wireDevice is a device as the API answers it.
func wireDevice(d *ca.Device) protocol.Device {
	return protocol.Device{
		ID: d.ID, User: d.UserID, Name: d.Name, PublicKeyPEM: d.PublicKeyPEM, KeyAlg: d.KeyAlg,
		CreatedAt: d.CreatedAt, RevokedAt: d.RevokedAt, RevocationReason: d.RevocationReason,
	}
}

// wireUserDetail is a user with their devices and credentials.
func wireUserDetail(d *ca.UserDetail) protocol.UserDetail {
	// The lists are empty or null as ca gives them.
	var out protocol.UserDetail
	if d.Devices != nil {
		out.Devices = []*protocol.Device{}
	}
	if d.Credentials != nil {
		out.Credentials = []*protocol.Credential{}
	}
	if d.User != nil {
		u := *d.User
		out.User = &u
	}
	for _, dev := range d.Devices {
		w := wireDevice(dev)
		out.Devices = append(out.Devices, &w)
	}
	for _, c := range d.Credentials {
		w := wireCredential(c)
		out.Credentials = append(out.Credentials, &w)
	}
	return out
}

// wireSeal is a seal of the registry as the operator API answers it.
func wireSeal(s *ca.Seal) protocol.Seal {
	out := protocol.Seal{
		ID: s.ID, Owner: s.Owner, Name: s.Name, Kind: string(s.Kind), WidthMM: s.WidthMM, HeightMM: s.HeightMM,
		Issuer: s.IssuerID, State: string(s.State), NotBefore: s.NotBefore, NotAfter: s.NotAfter,
		CreatedAt: s.CreatedAt, RevokedAt: s.RevokedAt, RevocationReason: s.RevocationReason, SESSeal: s.SESSeal,
		Version: s.Version, ReissuedAt: s.ReissuedAt, SignerCredentials: s.SignerCredentials,
	}
	for _, v := range s.Previous {
		out.PreviousVersions = append(out.PreviousVersions, protocol.SealVersion{Version: v.Version, IssuedAt: v.IssuedAt,
			NotAfter: v.NotAfter, SESSM3: v.SESSM3, SignerCredentials: v.SignerCredentials})
	}
	return out
}
