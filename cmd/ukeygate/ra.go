package main

import (
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// The registration authority's queue (docs/registration.md): list, show,
// approve, reject registrations and corrections.

func newRACmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ra",
		Short: "Review self-registrations and corrections: list, show, approve, reject (operator API)",
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newRAListCmd(), newRAShowCmd(), newRAApproveCmd(), newRARejectCmd())
	return cmd
}

func newRAListCmd() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "list [--state pending|approved|rejected|all]",
		Short: "List the registration and correction requests (pending ones by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/v1/admin/registrations"
			if state != "all" {
				path += "?state=" + url.QueryEscape(state)
			}
			var out protocol.RegistrationList
			return opPrint(cmd, "GET", path, nil, &out, func(tw *table) {
				row(tw, "ID", "TYPE", "STATE", "KIND", "NAME", "ID/CREDIT CODE", "CHECKS", "CREATED")
				for _, g := range out.Registrations {
					row(tw, g.ID, g.Type, g.State, g.Kind, g.Name, g.IDNumber+g.CreditCode, checksSummary(g.Checks), g.CreatedAt)
				}
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "pending", "pending, approved, rejected or all")
	return cmd
}

func checksSummary(cs []protocol.RegistrationCheck) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += ", "
		}
		s += c.Verifier + ":" + c.Outcome
	}
	return s
}

func registrationTable(tw *table, g *protocol.Registration) {
	row(tw, "ID", g.ID)
	row(tw, "TYPE", g.Type)
	row(tw, "STATE", g.State)
	row(tw, "KIND", g.Kind)
	row(tw, "NAME", g.Name)
	row(tw, "ID NUMBER", g.IDNumber)
	row(tw, "CREDIT CODE", g.CreditCode)
	row(tw, "LEGAL REP", g.LegalRep)
	row(tw, "PHONE", g.Phone)
	if g.LicenceType != "" {
		row(tw, "LICENCE", fmt.Sprintf("%s, %d bytes", g.LicenceType, g.LicenceBytes))
	}
	if g.Consent != nil {
		row(tw, "CONSENT", "policy "+g.Consent.PolicyVersion+" at "+g.Consent.AcceptedAt.Local().Format("2006-01-02 15:04:05"))
	}
	for _, c := range g.Checks {
		row(tw, "CHECK", c.Verifier+": "+c.Outcome+" ("+c.Reason+")")
	}
	row(tw, "USER", g.User)
	row(tw, "CREATED", g.CreatedAt)
	if !g.DecidedAt.IsZero() {
		row(tw, "DECIDED", g.DecidedAt)
		row(tw, "BY", g.DecidedBy)
		row(tw, "REASON", g.Reason)
	}
}

func newRAShowCmd() *cobra.Command {
	var licence string
	cmd := &cobra.Command{
		Use:   "show ID [--licence FILE]",
		Short: "Show one request; --licence writes its licence image to FILE",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var g protocol.Registration
			return opPrint(cmd, "GET", "/v1/admin/registrations/"+url.PathEscape(args[0]), nil, &g, func(tw *table) {
				registrationTable(tw, &g)
				if licence != "" && len(g.Licence) > 0 {
					if err := os.WriteFile(licence, g.Licence, 0o600); err != nil {
						fmt.Fprintf(tw, "\nwriting the licence: %v\n", err)
						return
					}
					fmt.Fprintf(tw, "\nThe licence image is in %s.\n", licence)
				}
			})
		},
	}
	cmd.Flags().StringVar(&licence, "licence", "", "write the licence image to this file")
	return cmd
}

func newRAApproveCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "approve ID [--reason TEXT]",
		Short: "Approve a request: a registration creates the user and prints the activation code (as user add); a correction applies its fields",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out protocol.RegistrationApproval
			return opPrint(cmd, "POST", "/v1/admin/registrations/"+url.PathEscape(args[0])+"/approve",
				protocol.RegistrationDecision{Reason: reason}, &out, func(tw *table) {
					userTable(tw, []*operator.User{&out.User})
					if out.ActivationCode != "" {
						fmt.Fprintf(tw, "\nActivation code (one use, until %s): %s\n",
							out.ActivationExpiresAt.Local().Format("2006-01-02 15:04"), out.ActivationCode)
						printEnrollment(tw, out.EnrollmentURL)
					}
				})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return cmd
}

func newRARejectCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reject ID --reason TEXT",
		Short: "Reject a request with a reason (required; recorded in the audit log)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageErrorf("--reason is required")
			}
			var g protocol.Registration
			return opPrint(cmd, "POST", "/v1/admin/registrations/"+url.PathEscape(args[0])+"/reject",
				protocol.RegistrationDecision{Reason: reason}, &g, func(tw *table) { registrationTable(tw, &g) })
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the request is rejected (required)")
	return cmd
}
