package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/operator"
)

// The operator commands (issuer, app, user, credential) talk to a running
// server through the operator API; this file holds their HTTP client and
// the output helpers they share with the phone commands.

// defaultServer is the server the CLI talks to when nothing says otherwise.
const defaultServer = "http://127.0.0.1:8080"

// Environment variables of the client commands.
const (
	envServer     = "UKEYGATE_SERVER"
	envAdminToken = "UKEYGATE_ADMIN_TOKEN"
)

// clientTimeout bounds one request of the CLI.
const clientTimeout = 60 * time.Second

// addServerFlag adds --server to cmd.
func addServerFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().String("server", "", "gateway URL (env "+envServer+"; default "+defaultServer+")")
}

// addOutputFlag adds --json to cmd.
func addOutputFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().Bool("json", false, "print the server's JSON instead of a table")
}

// serverURL is --server, else $UKEYGATE_SERVER, else the public_url of the
// --config file if one is given, else defaultServer. A value that is not
// an http(s) URL is a usage error that says how to write it.
func serverURL(cmd *cobra.Command) (string, error) {
	if s, _ := cmd.Flags().GetString("server"); s != "" {
		return checkServerURL("--server", s)
	}
	if s := os.Getenv(envServer); s != "" {
		return checkServerURL(envServer, s)
	}
	if f := cmd.Flag("config"); f != nil && f.Changed {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return "", err
		}
		return cfg.PublicBaseURL(), nil
	}
	return defaultServer, nil
}

// checkServerURL returns s without a trailing slash if it is an http or
// https URL with a host, else a usage error naming where s came from.
func checkServerURL(from, s string) (string, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == "" {
		return strings.TrimRight(s, "/"), nil
	}
	if err == nil && u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" && u.Host != "" {
		return "", usageErrorf("%s is %q: the gateway speaks http or https, e.g. http://127.0.0.1:8080", from, s)
	}
	if !strings.Contains(s, "://") {
		return "", usageErrorf("%s is %q, which has no scheme: write the server's URL with http:// or https://, e.g. http://%s", from, s, strings.TrimPrefix(s, "//"))
	}
	return "", usageErrorf("%s is %q, which is not a server URL: write it as http://HOST:PORT or https://HOST", from, s)
}

// opClient calls the operator API through the shared operator client.
type opClient struct {
	*operator.Client
}

// newOpClient resolves the server and the admin token: --admin-token, else
// $UKEYGATE_ADMIN_TOKEN, else the admin_token of the --config file.
func newOpClient(cmd *cobra.Command) (*opClient, error) {
	base, err := serverURL(cmd)
	if err != nil {
		return nil, err
	}
	token, _ := cmd.Flags().GetString("admin-token")
	if token == "" {
		token = os.Getenv(envAdminToken)
	}
	if token == "" {
		if f := cmd.Flag("config"); f != nil && f.Changed {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return nil, err
			}
			token = cfg.AdminToken
		}
	}
	if token == "" {
		return nil, usageErrorf("no admin token: give --admin-token or set %s", envAdminToken)
	}
	if strings.ContainsAny(token, "\r\n ") {
		return nil, usageErrorf("the admin token holds spaces or line breaks")
	}
	return &opClient{&operator.Client{BaseURL: base, Token: token, HTTP: &http.Client{Timeout: clientTimeout}}}, nil
}

// call sends body (nil for none) as JSON and returns the answer's body.
func (c *opClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	return c.Do(ctx, method, path, body, nil)
}

// render prints raw (the server's JSON) indented when --json is set,
// else decodes it into v and calls table.
func render(cmd *cobra.Command, raw []byte, v any, table func(tw *table)) error {
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("the server answered malformed JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("the server answered malformed JSON: %w", err)
		}
	}
	tw := newTable(cmd.OutOrStdout())
	table(tw)
	return tw.Flush()
}

// opPrint is the body of most operator commands: it resolves the operator
// client (newOpClient), then calls it and prints the answer (print).
func opPrint(cmd *cobra.Command, method, path string, body, v any, table func(tw *table)) error {
	c, err := newOpClient(cmd)
	if err != nil {
		return err
	}
	return c.print(cmd, method, path, body, v, table)
}

// print sends body (nil for none) to method path and prints the answer:
// the server's JSON with --json, else table after decoding it into v
// (render).
func (c *opClient) print(cmd *cobra.Command, method, path string, body, v any, table func(tw *table)) error {
	raw, err := c.call(cmd.Context(), method, path, body)
	if err != nil {
		return err
	}
	return render(cmd, raw, v, table)
}

// withQuery is path with the non-empty values of params as its query
// ("" values are left out).
func withQuery(path string, params map[string]string) string {
	q := url.Values{}
	for k, v := range params {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// row writes one tab-separated row.
func row(tw *table, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		switch v := c.(type) {
		case time.Time:
			if v.IsZero() {
				fmt.Fprint(tw, "-")
			} else {
				fmt.Fprint(tw, v.Local().Format("2006-01-02 15:04"))
			}
		case string:
			if v == "" {
				v = "-"
			}
			fmt.Fprint(tw, cellText(v))
		default:
			fmt.Fprint(tw, v)
		}
	}
	fmt.Fprintln(tw)
}

// cellText is s on one line without tabs, so that it stays one cell.
func cellText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// readInput reads a file, or standard input for "-".
func readInput(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(stdin(cmd), 16<<20))
	}
	return readFile(path)
}

// stdin is the input of commands that read it (PINs, PEM from "-"):
// os.Stdin, unless the command runs with a context made by withStdin (the
// in-process tests, several at once, each with its own input).
func stdin(cmd *cobra.Command) io.Reader {
	if ctx := cmd.Context(); ctx != nil {
		if r, ok := ctx.Value(stdinKey{}).(io.Reader); ok {
			return r
		}
	}
	return os.Stdin
}

// stdinKey is the context key of withStdin's reader.
type stdinKey struct{}

// withStdin returns ctx carrying r as the input of the commands run with
// it.
func withStdin(ctx context.Context, r io.Reader) context.Context {
	return context.WithValue(ctx, stdinKey{}, r)
}
