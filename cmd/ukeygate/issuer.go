package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// addOperatorFlags adds the flags every operator command has.
func addOperatorFlags(cmd *cobra.Command) {
	addServerFlag(cmd)
	addOutputFlag(cmd)
	cmd.PersistentFlags().String("admin-token", "", "operator API token (env "+envAdminToken+")")
}

func newIssuerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issuer",
		Short: "Register and list certificate issuers (operator API)",
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newIssuerAddCmd(), newIssuerListCmd())
	return cmd
}

func newIssuerAddCmd() *cobra.Command {
	var (
		req                                    api.IssuerRequest
		subject                                struct{ cn, org, country string }
		pathLen                                int
		certFile, keyFile, chainFile           string
		profAlgs, profPurposes, profSubjFields []string
		profBits                               []int
		profDays                               int
		profRenewalKey                         string
		profEscrow                             bool
	)
	cmd := &cobra.Command{
		Use:   "add --name NAME --mode internal|external [flags]",
		Short: "Register an issuer",
		Long: `Register an issuer.

internal, generated (the default for --mode internal without --cert):
  ukeygate issuer add --name "SM2 Root" --mode internal --alg SM2 --cn "Example SM2 Root CA"
internal, imported:
  ukeygate issuer add --name "Old CA" --mode internal --cert ca.pem --key ca.key
external (the gateway makes CSRs for it):
  ukeygate issuer add --name "CFCA" --mode external --chain chain.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			var files = []struct {
				path string
				dst  *string
			}{{certFile, &req.CertPEM}, {keyFile, &req.KeyPEM}, {chainFile, &req.ChainPEM}}
			for _, f := range files {
				if f.path == "" {
					continue
				}
				b, err := readInput(cmd, f.path)
				if err != nil {
					return err
				}
				*f.dst = string(b)
			}
			if req.Mode == string(ca.ModeInternal) && req.CertPEM == "" && req.KeyPEM == "" {
				req.Generate = true
			}
			if subject.cn != "" || subject.org != "" || subject.country != "" {
				req.Subject = &protocol.IssuerSubject{CommonName: subject.cn, Organization: subject.org, Country: subject.country}
			}
			if req.Generate && req.Subject == nil {
				return usageErrorf("a generated issuer needs --cn (its certificate's common name)")
			}
			if cmd.Flags().Changed("path-len") {
				req.PathLen = &pathLen
			}
			req.Alg = strings.ToUpper(req.Alg)
			if len(profAlgs) > 0 || len(profPurposes) > 0 || len(profSubjFields) > 0 || len(profBits) > 0 || profDays > 0 || profRenewalKey != "" || profEscrow {
				req.Profile = &protocol.Profile{ValidityDays: profDays, Algs: upper(profAlgs), RSABits: profBits,
					Purposes: profPurposes, SubjectFields: profSubjFields, RenewalKey: profRenewalKey, Escrow: profEscrow}
			}
			if err := req.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			var iss operator.Issuer
			return c.print(cmd, "POST", "/v1/admin/issuers", req, &iss, func(tw *table) {
				issuerTable(tw, []*operator.Issuer{&iss})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.ID, "id", "", "issuer id ([a-z0-9_-], default generated)")
	f.StringVar(&req.Name, "name", "", "display name (required)")
	f.StringVar(&req.Mode, "mode", "internal", "internal (the gateway holds the CA key) or external")
	f.StringVar(&req.Alg, "alg", "", "SM2 or RSA (required when generating)")
	f.StringVar(&subject.cn, "cn", "", "common name of a generated CA certificate")
	f.StringVar(&subject.org, "org", "", "organization of a generated CA certificate")
	f.StringVar(&subject.country, "country", "", "country (2 letters) of a generated CA certificate")
	f.IntVar(&req.ValidityDays, "validity-days", 0, "validity of a generated CA certificate (default 3650)")
	f.IntVar(&pathLen, "path-len", 0, "path length constraint of a generated CA certificate")
	f.IntVar(&req.RSABits, "rsa-bits", 0, "RSA size of a generated CA key (default 2048)")
	f.StringVar(&req.Parent, "parent", "", "registered issuer that signs this one (intermediate)")
	f.StringVar(&certFile, "cert", "", "PEM file of a CA certificate: an imported CA (with --key) or an external CA (- for stdin)")
	f.StringVar(&keyFile, "key", "", "PEM file of an imported CA key (- for stdin)")
	f.StringVar(&chainFile, "chain", "", "PEM file of an external issuer's chain (- for stdin)")
	f.StringSliceVar(&profAlgs, "profile-algs", nil, "user key algorithms allowed (SM2,RSA)")
	f.IntSliceVar(&profBits, "profile-rsa-bits", nil, "user RSA sizes allowed (first is the default)")
	f.StringSliceVar(&profPurposes, "profile-purposes", nil, "purposes allowed (sign,encrypt)")
	f.StringSliceVar(&profSubjFields, "profile-subject-fields", nil, "user subject fields required (id_number,phone)")
	f.IntVar(&profDays, "profile-validity-days", 0, "validity of issued user certificates")
	f.BoolVar(&profEscrow, "escrow", false, "escrow new encryption keys under the escrow key (ukeygate escrow init first)")
	f.StringVar(&profRenewalKey, "renewal-key", "", "key of a renewal: same (default), new (always a new key pair) or either (the phone's --new-key)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

func newIssuerListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the registered issuers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Issuers []*operator.Issuer `json:"issuers"`
			}
			return opPrint(cmd, "GET", "/v1/admin/issuers", nil, &out, func(tw *table) { issuerTable(tw, out.Issuers) })
		},
	}
}

func issuerTable(tw *table, list []*operator.Issuer) {
	row(tw, "ID", "NAME", "MODE", "ALG", "USER ALGS", "SUBJECT", "NOT AFTER")
	for _, iss := range list {
		row(tw, iss.ID, iss.Name, iss.Mode, iss.Alg, strings.Join(iss.Profile.Algs, ","), iss.Subject, iss.NotAfter)
	}
}
