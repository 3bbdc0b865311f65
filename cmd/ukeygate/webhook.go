package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/operator"
)

func newAppWebhookCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Set, show or remove a portal's webhook (session events POSTed to its backend)",
	}
	cmd.AddCommand(newAppWebhookSetCmd(), newAppWebhookShowCmd(), newAppWebhookRmCmd())
	return cmd
}

func webhookPath(app string) string { return "/v1/admin/apps/" + url.PathEscape(app) + "/webhook" }

func webhookTable(tw *table, h *operator.Webhook) {
	row(tw, "APP", "URL", "CREATED")
	row(tw, h.App, h.URL, h.CreatedAt)
}

func newAppWebhookSetCmd() *cobra.Command {
	var req api.WebhookRequest
	cmd := &cobra.Command{
		Use:   "set APP_ID --url https://portal.example.cn/ukeygate/webhook",
		Short: "Register or replace a portal's webhook; its signing secret is printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := req.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			var h operator.Webhook
			return opPrint(cmd, "PUT", webhookPath(args[0]), req, &h, func(tw *table) {
				webhookTable(tw, &h)
				fmt.Fprintf(tw, "\nWebhook secret (shown once, keep it secret; the portal checks X-Ukeygate-Signature with it): %s\n", h.Secret)
			})
		},
	}
	cmd.Flags().StringVar(&req.URL, "url", "", "the absolute http(s) URL the events are POSTed to (required)")
	_ = cmd.MarkFlagRequired("url")
	return cmd
}

func newAppWebhookShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show APP_ID",
		Short: "Show a portal's webhook (not its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var h operator.Webhook
			return opPrint(cmd, "GET", webhookPath(args[0]), nil, &h, func(tw *table) { webhookTable(tw, &h) })
		},
	}
}

func newAppWebhookRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rm APP_ID",
		Short: "Remove a portal's webhook; deliveries still pending fail",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var h operator.Webhook
			return opPrint(cmd, "DELETE", webhookPath(args[0]), nil, &h, func(tw *table) {
				webhookTable(tw, &h)
				fmt.Fprintln(tw, "\nWebhook removed.")
			})
		},
	}
}
