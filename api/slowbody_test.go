package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestSlowBodyIs408: a client that sends its headers and then only part of
// the body is answered, once http.read_timeout has passed, 408
// body_timeout, with no socket address in the message.
func TestSlowBodyIs408(t *testing.T) {
	t.Parallel()
	ts := servertest.Start(t, func(c *config.Config) { c.HTTP.ReadTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp", ts.Config.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "POST /v1/admin/users HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":",
		ts.Config.Listen, ts.AdminToken)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, raw, err)
	}
	if resp.StatusCode != http.StatusRequestTimeout || body.Error.Code != "body_timeout" {
		t.Fatalf("slow body: %d %s, want 408 body_timeout", resp.StatusCode, raw)
	}
	local, remote := conn.LocalAddr().String(), conn.RemoteAddr().String()
	for _, addr := range []string{local, remote, "127.0.0.1", "tcp"} {
		if strings.Contains(body.Error.Message, addr) {
			t.Fatalf("the message names %q: %s", addr, body.Error.Message)
		}
	}
}
