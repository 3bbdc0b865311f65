package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// newPhoneDelegationCmd is the phone's side of delegations: list them,
// accept one granted to this user (own PIN), approve one of this
// organisation's credentials (the organisation's PIN).
func newPhoneDelegationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delegation",
		Short: "List, accept (staff member, own PIN) or approve (organisation, its PIN) delegations",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "The delegations granted to this user and, for an organisation, those of its credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := phoneClient(cmd)
			if err != nil {
				return err
			}
			out, err := c.Delegations(cmd.Context())
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd, protocol.DelegationList{Delegations: out})
			}
			tw := newTable(cmd.OutOrStdout())
			delegationTable(tw, out)
			return tw.Flush()
		},
	}
	step := func(use, short string, approve bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " DELEGATION_ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := phoneClient(cmd)
				if err != nil {
					return err
				}
				pin, err := (&pinReader{cmd: cmd}).read("PIN: ")
				if err != nil {
					return err
				}
				if err := checkPINForm(pin); err != nil {
					return err
				}
				do := c.AcceptDelegation
				if approve {
					do = c.ApproveDelegation
				}
				d, err := do(cmd.Context(), args[0], pin)
				if err != nil {
					return err
				}
				if wantJSON(cmd) {
					return printJSON(cmd, d)
				}
				tw := newTable(cmd.OutOrStdout())
				delegationTable(tw, []operator.Delegation{*d})
				if err := tw.Flush(); err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "Delegation %s is %s.\n", d.ID, d.State)
				return err
			},
		}
	}
	cmd.AddCommand(list,
		step("accept", "Accept a delegation granted to this user, with this user's own PIN", false),
		step("approve", "Approve, as the organisation, a delegation its staff member accepted, with the organisation's PIN", true))
	return cmd
}
