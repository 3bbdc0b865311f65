package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/operator"
)

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Create, list and show users; give them one-time activation codes (operator API)",
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newUserAddCmd(), newUserListCmd(), newUserActivateCmd(), newUserShowCmd(), newUserDataCmd())
	cmd.AddCommand(newUserResetPINCmd())
	return cmd
}

func newUserAddCmd() *cobra.Command {
	var req api.UserRequest
	cmd := &cobra.Command{
		Use:   "add --name NAME [--id-number N] [--phone P] [--org O] [--kind organization --credit-code C]",
		Short: "Create a user and print their one-time activation code",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := req.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			var u operator.UserActivation
			return opPrint(cmd, "POST", "/v1/admin/users", req, &u, func(tw *table) {
				userTable(tw, []*operator.User{&u.User})
				fmt.Fprintf(tw, "\nActivation code (one use, until %s): %s\n",
					u.ActivationExpiresAt.Local().Format("2006-01-02 15:04"), u.ActivationCode)
				printEnrollment(tw, u.EnrollmentURL)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "real name, the certificates' common name (required)")
	f.StringVar(&req.IDNumber, "id-number", "", "identity document number")
	f.StringVar(&req.Phone, "phone", "", "phone number")
	f.StringVar(&req.Organization, "org", "", "organization, for corporate users (kind organization: default --name)")
	f.StringVar(&req.Kind, "kind", "", "person (default) or organization")
	f.StringVar(&req.CreditCode, "credit-code", "", "统一社会信用代码 of an organization (GB 32100, checksum-checked)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newUserListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Users []*operator.User `json:"users"`
			}
			return opPrint(cmd, "GET", "/v1/admin/users", nil, &out, func(tw *table) { userTable(tw, out.Users) })
		},
	}
}

func userTable(tw *table, list []*operator.User) {
	row(tw, "ID", "NAME", "ORGANIZATION", "ENROLLED", "DEVICES", "CREATED")
	for _, u := range list {
		enrolled := "no"
		if u.Enrolled {
			enrolled = "yes"
		}
		row(tw, u.ID, u.Name, u.Organization, enrolled, len(u.Devices), u.CreatedAt)
	}
}

// printEnrollment prints the enrollment link of an activation code and its
// QR code: the phone's camera (or WeChat) opens the phone web app with the
// code filled in.
func printEnrollment(w io.Writer, link string) {
	if link == "" {
		return
	}
	fmt.Fprintf(w, "Enrollment link (open it on the phone, or scan the QR code below): %s\n", link)
	if q, err := terminalQR(link, false); err == nil {
		fmt.Fprint(w, q)
	}
}
