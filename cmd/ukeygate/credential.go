package main

import (
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/operator"
)

func newCredentialCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "List users' credentials, import certificates for pending ones, revoke (operator API)",
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newCredentialListCmd(), newCredentialCSRCmd(), newCredentialImportCmd(), newCredentialRevokeCmd())
	return cmd
}

func newCredentialListCmd() *cobra.Command {
	var state, user, issuer, expiring string
	cmd := &cobra.Command{
		Use:   "list [--state pending|active|revoked|expired|superseded] [--user ID] [--issuer ID] [--expiring 30d]",
		Short: "List credentials (--json shows the CSRs of pending ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := withQuery("/v1/admin/credentials", map[string]string{"state": state, "user": user, "issuer": issuer, "expiring": expiring})
			var out struct {
				Credentials []*operator.Credential `json:"credentials"`
			}
			return opPrint(cmd, "GET", path, nil, &out, func(tw *table) { credentialTable(tw, out.Credentials, true) })
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only credentials in this state")
	cmd.Flags().StringVar(&user, "user", "", "only this user's credentials")
	cmd.Flags().StringVar(&issuer, "issuer", "", "only this issuer's credentials")
	cmd.Flags().StringVar(&expiring, "expiring", "", "only active credentials whose certificate ends within this many days (30d): who should renew")
	return cmd
}

func newCredentialCSRCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "csr CREDENTIAL_ID [--out FILE]",
		Short: "Print the CSR (PEM) of a pending credential, to take to its external CA",
		Long: `Print the PKCS#10 certificate request of a pending credential (an external
issuer's: the gateway made the key pair and the CSR, the CA signs it). Take it
to the CA, then give the certificate back with 'ukeygate credential import'.

  ukeygate credential csr crd_… > user.csr
  openssl req -in user.csr -noout -text`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			list, err := c.Credentials(cmd.Context(), operator.CredentialFilter{State: string(ca.StatePending)})
			if err != nil {
				return err
			}
			var cred *operator.Credential
			for _, cr := range list {
				if cr != nil && cr.ID == args[0] {
					cred = cr
				}
			}
			if cred == nil || cred.CSRPEM == "" {
				return fmt.Errorf("no pending credential %s: only a credential of an external issuer waiting for its certificate has a CSR (see 'ukeygate credential list --state pending')", args[0])
			}
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]any{"credential": cred})
			}
			if out != "" {
				if err := writeOutput(out, []byte(cred.CSRPEM), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "CSR of %s (user %s, issuer %s, %s %s) written to %s\n", cred.ID, cred.User, cred.Issuer, cred.Alg, cred.Purpose, out)
				return nil
			}
			_, err = io.WriteString(cmd.OutOrStdout(), cred.CSRPEM)
			return err
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the PEM to this file instead of standard output")
	return cmd
}

func newCredentialImportCmd() *cobra.Command {
	var certFile string
	cmd := &cobra.Command{
		Use:   "import CREDENTIAL_ID --cert FILE",
		Short: "Import the certificate an external CA issued for a pending credential's CSR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readInput(cmd, certFile)
			if err != nil {
				return err
			}
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			req := api.ImportRequest{CertificatePEM: string(b)}
			if err := req.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			return credentialCall(cmd, c, "/v1/admin/credentials/"+url.PathEscape(args[0])+"/certificate", req)
		},
	}
	cmd.Flags().StringVar(&certFile, "cert", "", "PEM file of the issued certificate (- for stdin; required)")
	_ = cmd.MarkFlagRequired("cert")
	return cmd
}

func newCredentialRevokeCmd() *cobra.Command {
	var req api.RevokeRequest
	cmd := &cobra.Command{
		Use:   "revoke CREDENTIAL_ID [--reason keyCompromise|superseded|…]",
		Short: "Revoke a credential (it enters its issuer's CRL)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			return credentialCall(cmd, c, "/v1/admin/credentials/"+url.PathEscape(args[0])+"/revoke", req)
		},
	}
	cmd.Flags().StringVar(&req.Reason, "reason", "unspecified",
		"RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, aACompromise")
	return cmd
}

// credentialCall posts body and prints the credential of the answer.
func credentialCall(cmd *cobra.Command, c *opClient, path string, body any) error {
	var out struct {
		Credential *operator.Credential `json:"credential"`
	}
	return c.print(cmd, "POST", path, body, &out, func(tw *table) {
		credentialTable(tw, []*operator.Credential{out.Credential}, true)
	})
}

// cosignNotice is what the CLIs say wherever a cosign credential shows.
const cosignNotice = "Cosign (two-party SM2) credentials cannot be recovered by the gateway: the phone holds its share of the key.\n" +
	"If the phone is lost, revoke the credential and the user requests a new one; anything encrypted to it is lost.\n" +
	"Use usual (gateway-held) encryption credentials where encrypted data must survive a lost phone (docs/cosign.md).\n" +
	"When a phone is lost, 'ukeygate device revoke DEVICE --revoke-cosign' revokes the cosign credentials it holds."

// credentialTable lists credentials; a cosign one is marked in ALG, and a
// note under the table says it cannot be recovered.
func credentialTable(tw *table, list []*operator.Credential, withUser bool) {
	defer func() {
		for _, c := range list {
			if c != nil && c.Mode == ca.CredentialModeCosign {
				fmt.Fprintln(tw, "\n"+cosignNotice)
				return
			}
		}
	}()
	if withUser {
		row(tw, "ID", "USER", "ISSUER", "ALG", "PURPOSE", "STATE", "SERIAL", "NOT AFTER", "RENEWAL")
	} else {
		row(tw, "ID", "ISSUER", "ALG", "PURPOSE", "STATE", "SERIAL", "NOT AFTER", "RENEWAL")
	}
	for _, c := range list {
		if c == nil {
			continue
		}
		alg := c.Alg
		if c.Mode == ca.CredentialModeCosign {
			alg += " (cosign)"
		}
		cells := []any{c.ID, c.User, c.Issuer, alg, c.Purpose, c.State, c.Serial, c.NotAfter, renewalLink(c)}
		if !withUser {
			cells = append(cells[:1], cells[2:]...)
		}
		row(tw, cells...)
	}
}

// renewalLink is a credential's renewal links as a table shows them: the
// credential that superseded it, the renewal waiting for its certificate,
// or the one it renewed ("" for none).
func renewalLink(c *operator.Credential) string {
	switch {
	case c.SupersededBy != "":
		return "superseded by " + c.SupersededBy
	case c.RenewalPending != "":
		return "renewal " + c.RenewalPending + " pending"
	case c.Supersedes != "":
		return "renews " + c.Supersedes
	}
	return ""
}
