package main

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/operator"
)

// The operator commands of a user's life after enrollment: a new
// activation code (lost or new phone), a user's devices and credentials,
// device revocation, app key rotation and disabling.

func newUserActivateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "activate USER_ID",
		Short: "Give an existing user a new one-time activation code (lost or new phone); older unused codes stop working",
		Long: `Give an existing user a new one-time activation code. Unused older codes
of the user stop working. A user who has enrolled before keeps their PIN and
credentials: the new phone enrolls with this code and the CURRENT PIN. The
old phone stays enrolled until "ukeygate device revoke".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u operator.UserActivation
			return opPrint(cmd, "POST", "/v1/admin/users/"+url.PathEscape(args[0])+"/activation", nil, &u, func(tw *table) {
				userTable(tw, []*operator.User{&u.User})
				pin := "the phone sets the PIN"
				if u.Enrolled {
					pin = "the phone enrolls with the user's CURRENT PIN"
				}
				fmt.Fprintf(tw, "\nActivation code (one use, until %s; %s): %s\n",
					u.ActivationExpiresAt.Local().Format("2006-01-02 15:04"), pin, u.ActivationCode)
				printEnrollment(tw, u.EnrollmentURL)
			})
		},
	}
}

func newUserShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show USER_ID",
		Short: "Show a user with their devices and credentials",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d operator.UserDetail
			return opPrint(cmd, "GET", "/v1/admin/users/"+url.PathEscape(args[0]), nil, &d, func(tw *table) {
				if d.User != nil {
					userTable(tw, []*operator.User{d.User})
				}
				fmt.Fprintln(tw, "\nDevices:")
				deviceTable(tw, d.Devices)
				fmt.Fprintln(tw, "\nCredentials:")
				credentialTable(tw, d.Credentials, false)
			})
		},
	}
}

func newDeviceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Revoke users' devices, e.g. a lost phone (operator API)",
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newDeviceRevokeCmd())
	return cmd
}

func newDeviceRevokeCmd() *cobra.Command {
	var req api.DeviceRevokeRequest
	var revokeCosign bool
	cmd := &cobra.Command{
		Use:   "revoke DEVICE_ID [--reason TEXT] [--revoke-cosign]",
		Short: "Revoke a device: it can no longer sign requests (the user keeps PIN and usual credentials; cosign credentials it holds are lost)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := req.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			var out struct {
				Device *operator.Device `json:"device"`
			}
			raw, err := c.call(cmd.Context(), "POST", "/v1/admin/devices/"+url.PathEscape(args[0])+"/revoke", req)
			if err != nil {
				return err
			}
			if err := render(cmd, raw, &out, func(tw *table) { deviceTable(tw, []*operator.Device{out.Device}) }); err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &out); err != nil || out.Device == nil {
				return fmt.Errorf("the server answered malformed JSON: %v", err)
			}
			return lostCosign(cmd, c, out.Device, revokeCosign)
		},
	}
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why (free text, e.g. lost, stolen)")
	cmd.Flags().BoolVar(&revokeCosign, "revoke-cosign", false, "also revoke (keyCompromise) the cosign credentials this device holds the share of: they cannot be used or recovered without it")
	return cmd
}

// lostCosign tells the operator which cosign credentials died with device
// d (they were made on it: it holds the phone's share), and revokes them
// when asked. Nobody, the gateway included, can recover them; the user
// requests new ones from another device.
func lostCosign(cmd *cobra.Command, c *opClient, d *operator.Device, revoke bool) error {
	creds, err := c.Credentials(cmd.Context(), operator.CredentialFilter{UserID: d.User})
	if err != nil {
		return err
	}
	var lost []*operator.Credential
	for _, cr := range creds {
		if cr.Mode == ca.CredentialModeCosign && cr.HolderDevice == d.ID && (cr.State == string(ca.StateActive) || cr.State == string(ca.StatePending)) {
			lost = append(lost, cr)
		}
	}
	if len(lost) == 0 {
		return nil
	}
	w := cmd.OutOrStdout()
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		w = cmd.ErrOrStderr()
	}
	if revoke {
		for i, cr := range lost {
			var out struct {
				Credential *operator.Credential `json:"credential"`
			}
			raw, err := c.call(cmd.Context(), "POST", "/v1/admin/credentials/"+url.PathEscape(cr.ID)+"/revoke", api.RevokeRequest{Reason: "keyCompromise"})
			if err != nil {
				return fmt.Errorf("revoking cosign credential %s: %w", cr.ID, err)
			}
			if err := json.Unmarshal(raw, &out); err != nil || out.Credential == nil {
				return fmt.Errorf("revoking cosign credential %s: the server answered malformed JSON", cr.ID)
			}
			lost[i] = out.Credential
		}
		fmt.Fprintf(w, "\nRevoked (keyCompromise) the %d cosign credential(s) this device held the share of:\n", len(lost))
	} else {
		fmt.Fprintf(w, "\nThis device made, and holds the phone's share of, %d cosign credential(s). They cannot be used or recovered without it:\n", len(lost))
	}
	tw := newTable(w)
	credentialTable(tw, lost, false)
	if !revoke {
		fmt.Fprintln(tw, "Revoke them: ukeygate credential revoke ID --reason keyCompromise (or this command with --revoke-cosign).")
	}
	return tw.Flush()
}

func deviceTable(tw *table, list []*operator.Device) {
	row(tw, "ID", "USER", "NAME", "STATE", "ENROLLED", "REVOKED", "REASON")
	for _, d := range list {
		if d == nil {
			continue
		}
		state := "active"
		if !d.RevokedAt.IsZero() {
			state = "revoked"
		}
		row(tw, d.ID, d.User, d.Name, state, d.CreatedAt, d.RevokedAt, d.RevocationReason)
	}
}

func newAppRotateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate APP_ID",
		Short: "Give a portal a new app key (printed once); the old key stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var app operator.App
			return opPrint(cmd, "POST", "/v1/admin/apps/"+url.PathEscape(args[0])+"/rotate", nil, &app, func(tw *table) {
				appTable(tw, []*operator.App{&app})
				fmt.Fprintf(tw, "\nNew app key (shown once, keep it secret; the old key no longer works): %s\n", app.APIKey)
			})
		},
	}
}

func newAppDisableCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "disable APP_ID",
		Short: "Turn a portal off for good: its key is refused with app_disabled",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var app operator.App
			return opPrint(cmd, "POST", "/v1/admin/apps/"+url.PathEscape(args[0])+"/disable", nil, &app, func(tw *table) {
				appTable(tw, []*operator.App{&app})
				fmt.Fprintf(tw, "\nDisabled at %s.\n", app.DisabledAt.Local().Format("2006-01-02 15:04"))
			})
		},
	}
}
