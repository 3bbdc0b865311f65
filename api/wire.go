package api

import (
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
)

// wireCredential is a credential as the phone endpoints answer it.
func wireCredential(c *ca.Credential) protocol.Credential {
	return protocol.Credential{
		ID: c.ID, User: c.UserID, Issuer: c.IssuerID, Alg: string(c.Alg), RSABits: c.RSABits,
		Purpose: string(c.Purpose), State: string(c.State),
		CertificatePEM: c.CertificatePEM, CSRPEM: c.CSRPEM, Serial: c.Serial,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, CreatedAt: c.CreatedAt,
		RevokedAt: c.RevokedAt, RevocationReason: c.RevocationReason,
		Mode: c.Mode, Cosign: c.CosignChallenge,
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
