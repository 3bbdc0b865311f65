package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/phone"
)

// The reference phone client on the command line: what a phone app does,
// through the public protocol only (package phone).

func newPhoneCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "phone",
		Short: "The reference phone client: enroll a device, request credentials, change the PIN",
		Long: `The reference phone client. It keeps the device's SM2 key, its device id and
the server URL in a state file (mode 0600): --state FILE, else
$UKEYGATE_PHONE_STATE, else ~/.ukeygate/phone.json. One state file is one
phone: give a second phone its own file. Every request is signed with the
device key, as a phone app would.

  ukeygate phone enroll --server http://127.0.0.1:8080 --code ACTIVATION-CODE --name "My phone"
  ukeygate phone request --issuer sm2-root --alg SM2 --purpose sign
  ukeygate phone credentials
  ukeygate phone renew CREDENTIAL_ID [--new-key]
  ukeygate phone pin

PINs are asked on the terminal, or given with --pin, or read from standard
input with --pin-stdin (one per line; for "phone pin" the old, then the new).`,
	}
	addServerFlag(cmd)
	addOutputFlag(cmd)
	pf := cmd.PersistentFlags()
	pf.String("state", "", "phone state file (env "+envPhoneState+"; default ~/.ukeygate/phone.json)")
	pf.String("pin", "", "the PIN (visible to other local users: prefer the prompt or --pin-stdin)")
	pf.Bool("pin-stdin", false, "read the PIN(s) from standard input, one per line")
	cmd.AddCommand(newPhoneEnrollCmd(), newPhoneCredentialsCmd(), newPhoneRequestCmd(), newPhoneRenewCmd(), newPhonePINCmd(), newPhoneDelegationCmd())
	cmd.AddCommand(newPhoneRecoverCmd())
	return cmd
}

// envPhoneState names the phone state file when --state is not given.
const envPhoneState = "UKEYGATE_PHONE_STATE"

// statePath is --state, else $UKEYGATE_PHONE_STATE, else
// ~/.ukeygate/phone.json.
func statePath(cmd *cobra.Command) (string, error) {
	if p, _ := cmd.Flags().GetString("state"); p != "" {
		return p, nil
	}
	if p := os.Getenv(envPhoneState); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the default state file (give --state): %w", err)
	}
	return filepath.Join(home, ".ukeygate", "phone.json"), nil
}

// phoneClient loads the enrolled state and returns a client for it;
// --server overrides the server recorded at enrollment.
func phoneClient(cmd *cobra.Command) (*phone.Client, error) {
	path, err := statePath(cmd)
	if err != nil {
		return nil, err
	}
	st, err := phone.LoadState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no phone state at %s: run 'ukeygate phone enroll' first", path)
	}
	if err != nil {
		return nil, err
	}
	if !st.Enrolled() {
		return nil, fmt.Errorf("%w (state %s): run 'ukeygate phone enroll' first", phone.ErrNotEnrolled, path)
	}
	c := &phone.Client{State: st, HTTP: &http.Client{Timeout: clientTimeout}}
	if cmd.Flags().Changed("server") || os.Getenv(envServer) != "" {
		if c.BaseURL, err = serverURL(cmd); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// pinReader hands out PINs: --pin, lines of standard input (--pin-stdin),
// or a prompt on the terminal without echo.
type pinReader struct {
	cmd  *cobra.Command
	once sync.Once
	in   *bufio.Reader
}

func (p *pinReader) read(prompt string) (string, error) {
	if pin, _ := p.cmd.Flags().GetString("pin"); pin != "" {
		return pin, nil
	}
	p.once.Do(func() { p.in = bufio.NewReader(stdin(p.cmd)) })
	fromStdin, _ := p.cmd.Flags().GetBool("pin-stdin")
	if fromStdin {
		return readLine(p.in)
	}
	f, ok := stdin(p.cmd).(*os.File)
	if !ok || !isTerminal(f) {
		return "", usageErrorf("no PIN: give --pin or --pin-stdin, or run in a terminal")
	}
	fmt.Fprint(p.cmd.ErrOrStderr(), prompt)
	echoOff := exec.Command("stty", "-echo")
	echoOff.Stdin = f
	if echoOff.Run() == nil {
		defer func() {
			on := exec.Command("stty", "echo")
			on.Stdin = f
			_ = on.Run()
		}()
	}
	pin, err := readLine(p.in)
	fmt.Fprintln(p.cmd.ErrOrStderr())
	return pin, err
}

// checkNewPIN refuses, before anything is sent, a new PIN the server's
// PIN policy would refuse (ca.CheckPINPolicy).
func checkNewPIN(pin string) error {
	if err := ca.CheckPINPolicy(pin); err != nil {
		why := strings.TrimPrefix(err.Error(), ca.ErrWeakPIN.Error()+": ")
		return usageErrorf("the PIN does not meet the PIN policy (%d to %d digits, not all one digit, not a run like 123456): %s",
			ca.MinPINLen, ca.MaxPINLen, why)
	}
	return nil
}

// checkPINForm refuses, before anything is sent, a PIN that cannot be
// the user's: every PIN has MinPINLen to MaxPINLen digits.
func checkPINForm(pin string) error {
	ok := len(pin) >= ca.MinPINLen && len(pin) <= ca.MaxPINLen
	for i := 0; ok && i < len(pin); i++ {
		ok = pin[i] >= '0' && pin[i] <= '9'
	}
	if !ok {
		return usageErrorf("a PIN is %d to %d digits; nothing was sent", ca.MinPINLen, ca.MaxPINLen)
	}
	return nil
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no PIN on standard input")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printJSON prints v indented.
func printJSON(cmd *cobra.Command, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
	return err
}

func wantJSON(cmd *cobra.Command) bool {
	j, _ := cmd.Flags().GetBool("json")
	return j
}

func newPhoneEnrollCmd() *cobra.Command {
	var code, name string
	cmd := &cobra.Command{
		Use:   "enroll --code ACTIVATION_CODE [--name DEVICE_NAME]",
		Short: "Enroll this device with a user's one-time activation code and set the PIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := statePath(cmd)
			if err != nil {
				return err
			}
			server, err := serverURL(cmd)
			if err != nil {
				return err
			}
			st, err := phone.LoadOrNewState(path, server)
			if err != nil {
				return err
			}
			if st.Enrolled() {
				return fmt.Errorf("%w: %s holds device %s; use another --state file", phone.ErrAlreadyEnrolled, path, st.DeviceID)
			}
			st.ServerURL = server
			pins := &pinReader{cmd: cmd}
			pin, err := pins.read("Choose a PIN (6 to 12 digits): ")
			if err != nil {
				return err
			}
			if err := checkNewPIN(pin); err != nil {
				return err
			}
			if f, _ := cmd.Flags().GetString("pin"); f == "" {
				if fromStdin, _ := cmd.Flags().GetBool("pin-stdin"); !fromStdin {
					again, err := pins.read("Repeat the PIN: ")
					if err != nil {
						return err
					}
					if again != pin {
						return errors.New("the two PINs differ")
					}
				}
			}
			if name == "" {
				name, _ = os.Hostname()
				if name == "" {
					name = "ukeygate phone"
				}
			}
			c := &phone.Client{State: st, HTTP: &http.Client{Timeout: clientTimeout}}
			enr, err := c.Enroll(cmd.Context(), code, name, pin)
			if err != nil {
				return err
			}
			if err := st.Save(path); err != nil {
				return fmt.Errorf("enrolled as device %s, but saving %s failed: %w", st.DeviceID, path, err)
			}
			if wantJSON(cmd) {
				return printJSON(cmd, enr)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Enrolled device %s (%s) for user %s (%s).\nState saved in %s.\n",
				enr.Device.ID, enr.Device.Name, enr.User.ID, enr.User.Name, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&code, "code", "", "the one-time activation code from the operator (required)")
	cmd.Flags().StringVar(&name, "name", "", "this device's name (default the host name)")
	_ = cmd.MarkFlagRequired("code")
	return cmd
}

func newPhoneCredentialsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "credentials",
		Short: "List this user's credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := phoneClient(cmd)
			if err != nil {
				return err
			}
			list, err := c.Credentials(cmd.Context())
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				if list == nil {
					list = []phone.Credential{}
				}
				return printJSON(cmd, map[string]any{"credentials": list})
			}
			return phoneCredentialTable(cmd, list)
		},
	}
}

func phoneCredentialTable(cmd *cobra.Command, list []phone.Credential) error {
	tw := newTable(cmd.OutOrStdout())
	row(tw, "ID", "ISSUER", "ALG", "PURPOSE", "STATE", "SERIAL", "NOT AFTER", "RENEWAL")
	for _, c := range list {
		alg := c.Alg
		if c.Mode == "cosign" {
			alg += " (cosign)"
		}
		row(tw, c.ID, c.Issuer, alg, c.Purpose, c.State, c.Serial, c.NotAfter, renewalLink(&c))
	}
	return tw.Flush()
}

func newPhoneRequestCmd() *cobra.Command {
	var issuer, alg, purpose, certOut string
	var cosignMode bool
	cmd := &cobra.Command{
		Use:   "request --issuer ID --alg SM2|RSA [--purpose sign|encrypt] [--cosign]",
		Short: "Request a new credential (key pair and certificate) from an issuer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			var cred *phone.Credential
			if cosignMode {
				if !strings.EqualFold(alg, "SM2") {
					return usageErrorf("--cosign makes SM2 credentials only")
				}
				// The new share is saved before the request goes (an answer
				// lost on the way is then repeated with it: run the same
				// command again), and again with the credential's id.
				path, perr := statePath(cmd)
				if perr != nil {
					return perr
				}
				c.Persist = func(st *phone.State) error { return st.Save(path) }
				cred, err = c.RequestCosignCredential(cmd.Context(), issuer, purpose, pin)
				if err == nil {
					// The seed is this credential's half of the key: without
					// it the credential is lost for good.
					if perr := c.State.Save(path); perr != nil {
						return fmt.Errorf("the cosign credential %s was made but its share could not be saved: %w", cred.ID, perr)
					}
				}
			} else {
				cred, err = c.RequestCredential(cmd.Context(), issuer, strings.ToUpper(alg), purpose, pin)
			}
			if err != nil {
				return err
			}
			if certOut != "" && cred.CertificatePEM != "" {
				if err := writeOutput(certOut, []byte(cred.CertificatePEM), 0o644); err != nil {
					return err
				}
			}
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]any{"credential": cred})
			}
			if err := phoneCredentialTable(cmd, []phone.Credential{*cred}); err != nil {
				return err
			}
			if cred.State == "pending" {
				fmt.Fprintln(cmd.OutOrStdout(), "\nPending: the operator takes the CSR to the external CA and imports the certificate.")
			}
			if cred.Mode == "cosign" {
				fmt.Fprintln(cmd.OutOrStdout(), "\n"+cosignNotice)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "issuer id (required; see 'ukeygate issuer list' or GET /v1/issuers)")
	cmd.Flags().StringVar(&alg, "alg", "SM2", "key algorithm: SM2 or RSA")
	cmd.Flags().StringVar(&purpose, "purpose", "sign", "sign or encrypt")
	cmd.Flags().StringVar(&certOut, "cert-out", "", "also write the certificate (PEM) to this file")
	cmd.Flags().BoolVar(&cosignMode, "cosign", false, "two-party SM2: this phone keeps its share of the key (with the PIN folded in); the gateway alone can never use it, and cannot recover it")
	_ = cmd.MarkFlagRequired("issuer")
	return cmd
}

func newPhoneRenewCmd() *cobra.Command {
	var newKey bool
	cmd := &cobra.Command{
		Use:   "renew CREDENTIAL_ID [--new-key]",
		Short: "Renew an active credential before it expires (new certificate; the old one becomes superseded)",
		Long: `Renew an active credential: a new certificate from the same issuer, for the
same key or (--new-key, where the issuer's profile allows it) a new key pair
of the same algorithm and size. The old credential becomes superseded: it no
longer signs or logs in, but an encryption key still opens what was sealed
to it. At an external issuer the renewal is pending until the operator
imports its certificate; the old credential stays active until then.`,
		Args: cobra.ExactArgs(1),
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
			cred, err := c.RenewCredential(cmd.Context(), args[0], pin, newKey)
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]any{"credential": cred})
			}
			if err := phoneCredentialTable(cmd, []phone.Credential{*cred}); err != nil {
				return err
			}
			if cred.State == "pending" {
				fmt.Fprintf(cmd.OutOrStdout(), "\nPending: the operator takes the CSR to the external CA and imports the certificate; %s stays active until then.\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&newKey, "new-key", false, "make a new key pair (the issuer's profile must allow it: renewal_key either or new)")
	return cmd
}

func newPhonePINCmd() *cobra.Command {
	var newPIN string
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Change the PIN (every key of the user is re-wrapped under the new one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := phoneClient(cmd)
			if err != nil {
				return err
			}
			pins := &pinReader{cmd: cmd}
			old, err := pins.read("Current PIN: ")
			if err != nil {
				return err
			}
			if err := checkPINForm(old); err != nil {
				return err
			}
			if newPIN == "" {
				if old2, _ := cmd.Flags().GetString("pin"); old2 != "" {
					return usageErrorf("with --pin, give the new PIN with --new-pin")
				}
				if newPIN, err = pins.read("New PIN: "); err != nil {
					return err
				}
				if err := checkNewPIN(newPIN); err != nil {
					return err
				}
				if fromStdin, _ := cmd.Flags().GetBool("pin-stdin"); !fromStdin {
					again, err := pins.read("Repeat the new PIN: ")
					if err != nil {
						return err
					}
					if again != newPIN {
						return errors.New("the two new PINs differ")
					}
				}
			}
			if err := checkNewPIN(newPIN); err != nil {
				return err
			}
			if err := c.ChangePIN(cmd.Context(), old, newPIN); err != nil {
				return err
			}
			if len(c.State.Cosign) > 0 {
				// The cosign shares were re-shared: the new seeds must be kept.
				path, err := statePath(cmd)
				if err == nil {
					err = c.State.Save(path)
				}
				if err != nil {
					return fmt.Errorf("the PIN changed but the new cosign shares could not be saved: %w", err)
				}
			}
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]string{"status": "ok"})
			}
			fmt.Fprintln(cmd.OutOrStdout(), "PIN changed.")
			return nil
		},
	}
	cmd.Flags().StringVar(&newPIN, "new-pin", "", "the new PIN (visible to other local users: prefer the prompt or --pin-stdin)")
	return cmd
}
