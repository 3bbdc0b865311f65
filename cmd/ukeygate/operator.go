package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/protocol"
)

func newOperatorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Add, list and remove named operators (the admin token is the bootstrap operator \"admin\")",
		Long: `Named operators have tokens of their own, so that the audit log says which
operator did what (actor operator:NAME) and dual-control steps (escrow
recovery) can require two different people. Only the admin token adds and
removes operators; a named operator uses its token where the admin token
goes (--admin-token or ` + envAdminToken + `).`,
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newOperatorAddCmd(), newOperatorListCmd(), newOperatorRmCmd())
	return cmd
}

func newOperatorAddCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "add NAME",
		Short: "Add a named operator; its token is printed once (the gateway keeps only its hash)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out protocol.Operator
			return opPrint(cmd, "POST", "/v1/admin/operators", protocol.OperatorRequest{Name: args[0]}, &out, func(tw *table) {
				operatorTable(tw, []protocol.Operator{out})
				fmt.Fprintf(tw, "\nToken (shown once; give it to %s only):\n%s\n", out.Name, out.Token)
			})
		},
	}
}

func newOperatorListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the named operators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out protocol.OperatorList
			return opPrint(cmd, "GET", "/v1/admin/operators", nil, &out, func(tw *table) { operatorTable(tw, out.Operators) })
		},
	}
}

func newOperatorRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a named operator (its token stops working at once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out protocol.Operator
			return opPrint(cmd, "DELETE", "/v1/admin/operators/"+url.PathEscape(args[0]), nil, &out,
				func(tw *table) { operatorTable(tw, []protocol.Operator{out}) })
		},
	}
}

func operatorTable(tw *table, list []protocol.Operator) {
	row(tw, "NAME", "CREATED", "BY")
	for _, o := range list {
		row(tw, o.Name, o.CreatedAt.UTC().Format(time.RFC3339), o.CreatedBy)
	}
}
