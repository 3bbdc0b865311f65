package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/operator"
)

// The operator's copy of a user's data request (the user's right of
// access, docs/privacy.md).

func newUserDataCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "data USER_ID [--out FILE]",
		Short: "Export every personal record held about a user (a data request made to the operator); the export is audited",
		Long: `Export every personal record the gateway holds about a user: the user
record, devices, credentials with certificates, seals, stored sessions, the
audit entries about them and the records of registration, delegation or
escrow. With --out the whole export (JSON) is written to FILE (mode 0600),
to hand to the user; with --json it is printed; otherwise a summary.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			raw, err := c.call(cmd.Context(), "GET", "/v1/admin/users/"+url.PathEscape(args[0])+"/data", nil)
			if err != nil {
				return err
			}
			if out != "" {
				var buf bytes.Buffer
				if err := json.Indent(&buf, raw, "", "  "); err != nil {
					return fmt.Errorf("the server answered malformed JSON: %w", err)
				}
				buf.WriteByte('\n')
				if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
					return err
				}
			}
			var d operator.PersonalData
			return render(cmd, raw, &d, func(tw *table) {
				if d.User != nil {
					userTable(tw, []*operator.User{d.User})
				}
				fmt.Fprintln(tw)
				row(tw, "RECORDS", "COUNT")
				row(tw, "devices", fmt.Sprint(len(d.Devices)))
				row(tw, "credentials", fmt.Sprint(len(d.Credentials)))
				row(tw, "seals", fmt.Sprint(len(d.Seals)))
				row(tw, "sessions", fmt.Sprint(len(d.Sessions)))
				row(tw, "audit entries", fmt.Sprint(len(d.Audit)))
				other := make([]string, 0, len(d.Other))
				for k := range d.Other {
					other = append(other, k)
				}
				sort.Strings(other)
				for _, k := range other {
					row(tw, k, "yes")
				}
				if out != "" {
					fmt.Fprintf(tw, "\nThe whole export is in %s.\n", out)
				}
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the whole export (JSON) to this file")
	return cmd
}
