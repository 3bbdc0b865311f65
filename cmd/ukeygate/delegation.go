package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/operator"
)

func newDelegationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delegation",
		Short: "Grant, list and revoke staff members' use of an organisation's credential (经办人; operator API)",
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newDelegationAddCmd(), newDelegationListCmd(), newDelegationRmCmd())
	return cmd
}

func newDelegationAddCmd() *cobra.Command {
	var req api.DelegationRequest
	var org, notAfter string
	var days int
	cmd := &cobra.Command{
		Use:   "add --org ORG_USER --user STAFF_USER --credential CRED (--days N | --not-after RFC3339) [--kind sign]… [--app APP]…",
		Short: "Let a staff member use an organisation's credential with their own PIN",
		Long: `Grant a staff member (a person user) the use of one of an organisation
user's credentials, for some session kinds (login, sign, decrypt, seal;
default every kind the credential serves) and apps (default every app),
until a date. The delegation is usable once the staff member has accepted it
on their phone with their own PIN and the organisation's holder has approved
it on theirs with the organisation's PIN: the operator never handles the key.

  ukeygate delegation add --org usr_… --user usr_… --credential crd_… \
    --kind sign --kind seal --app app_… --days 90`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case notAfter != "" && days != 0:
				return usageErrorf("--days and --not-after exclude each other")
			case notAfter != "":
				t, err := time.Parse(time.RFC3339, notAfter)
				if err != nil {
					return usageErrorf("--not-after: %v", err)
				}
				req.NotAfter = t
			case days > 0:
				req.NotAfter = time.Now().Add(time.Duration(days) * 24 * time.Hour).UTC().Truncate(time.Second)
			default:
				return usageErrorf("give --days or --not-after")
			}
			if err := req.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			var out operator.Delegation
			return opPrint(cmd, "POST", "/v1/admin/users/"+url.PathEscape(org)+"/delegations", req, &out, func(tw *table) {
				delegationTable(tw, []operator.Delegation{out})
				fmt.Fprintf(tw, "\nNext: the staff member accepts it on their phone (own PIN), then the organisation approves it (its PIN).\n")
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&org, "org", "", "the organisation user (required)")
	f.StringVar(&req.User, "user", "", "the staff member (a person user; required)")
	f.StringVar(&req.Credential, "credential", "", "the organisation's credential (required)")
	f.StringArrayVar(&req.Kinds, "kind", nil, "a session kind it covers: login, sign, decrypt or seal (repeatable; default all the credential serves)")
	f.StringArrayVar(&req.Apps, "app", nil, "an app it covers (repeatable; default all)")
	f.IntVar(&days, "days", 0, "how many days it lasts")
	f.StringVar(&notAfter, "not-after", "", "when it ends (RFC 3339)")
	for _, name := range []string{"org", "user", "credential"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newDelegationListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list ORG_USER",
		Short: "List the delegations of an organisation's credentials",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Delegations []operator.Delegation `json:"delegations"`
			}
			return opPrint(cmd, "GET", "/v1/admin/users/"+url.PathEscape(args[0])+"/delegations", nil, &out,
				func(tw *table) { delegationTable(tw, out.Delegations) })
		},
	}
}

func newDelegationRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rm ORG_USER DELEGATION_ID",
		Short: "Revoke a delegation (its key wraps are erased at once)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out operator.Delegation
			return opPrint(cmd, "DELETE", "/v1/admin/users/"+url.PathEscape(args[0])+"/delegations/"+url.PathEscape(args[1]), nil, &out,
				func(tw *table) { delegationTable(tw, []operator.Delegation{out}) })
		},
	}
}

func delegationTable(tw *table, list []operator.Delegation) {
	row(tw, "ID", "ORGANIZATION", "STAFF", "CREDENTIAL", "KINDS", "APPS", "STATE", "NOT AFTER")
	for _, d := range list {
		kinds, apps := strings.Join(d.Kinds, ","), strings.Join(d.Apps, ",")
		if kinds == "" {
			kinds = "all"
		}
		if apps == "" {
			apps = "all"
		}
		org := d.Organization
		if d.OrganizationName != "" {
			org += " (" + d.OrganizationName + ")"
		}
		staff := d.User
		if d.UserName != "" {
			staff += " (" + d.UserName + ")"
		}
		cred := d.Credential
		if len(d.SupersededCredentials) > 0 {
			// The renewed certificates whose ciphertexts it still opens.
			cred += " (also " + strings.Join(d.SupersededCredentials, ",") + ")"
		}
		row(tw, d.ID, org, staff, cred, kinds, apps, d.State, d.NotAfter)
	}
}
