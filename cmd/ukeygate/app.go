package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

func newAppCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Register, list, rotate the keys of and disable portals (relying parties) (operator API)",
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newAppAddCmd(), newAppListCmd(), newAppRotateCmd(), newAppDisableCmd(), newAppWebhookCmd())
	return cmd
}

func newAppAddCmd() *cobra.Command {
	var req api.AppRequest
	cmd := &cobra.Command{
		Use:   "add --name NAME [--origin https://portal.example.cn ...]",
		Short: "Register a portal; its app key is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := req.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			var app operator.App
			return opPrint(cmd, "POST", "/v1/admin/apps", req, &app, func(tw *table) {
				appTable(tw, []*operator.App{&app})
				fmt.Fprintf(tw, "\nApp key (shown once, keep it secret): %s\n", app.APIKey)
				if app.Webhook != nil {
					fmt.Fprintf(tw, "Webhook %s, secret (shown once, keep it secret): %s\n", app.Webhook.URL, app.Webhook.Secret)
				}
			})
		},
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "the portal's name, shown on the phone (required)")
	cmd.Flags().StringArrayVar(&req.Origins, "origin", nil, "an allowed page origin, scheme://host[:port]; one trailing / (as copied from the address bar) is dropped (repeatable)")
	cmd.Flags().Func("webhook", "register this webhook URL with the app (its secret is printed once)", func(s string) error {
		req.Webhook = &protocol.WebhookRequest{URL: s}
		return nil
	})
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newAppListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the registered portals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Apps []*operator.App `json:"apps"`
			}
			return opPrint(cmd, "GET", "/v1/admin/apps", nil, &out, func(tw *table) { appTable(tw, out.Apps) })
		},
	}
}

func appTable(tw *table, list []*operator.App) {
	row(tw, "ID", "NAME", "ORIGINS", "CREATED", "DISABLED")
	for _, a := range list {
		row(tw, a.ID, a.Name, strings.Join(a.Origins, " "), a.CreatedAt, a.DisabledAt)
	}
}
