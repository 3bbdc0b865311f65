package portal_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/portal"
)

type widgetLine struct {
	State  string          `json:"state"`
	Seq    *int64          `json:"seq"`
	Attr   string          `json:"attr"`
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
	DOM    *struct {
		Session, Transport, Seq, QRSrc, QRAlt, Code, CodeLabel, Live, Countdown string
		RefreshHidden                                                           bool
	} `json:"dom"`
	Destroyed *bool  `json:"destroyed"`
	Seen      *int64 `json:"seen"`
}

// TestWidgetInNode runs the browser widget (qrlogin/widget/ukeygate.js)
// under node with a minimal DOM against a real gateway (long-poll: node 20
// has no WebSocket) and drives the session from the phone side step by
// step; one case replays a recorded event stream with repeats. It checks
// the widget's logic without a browser; package browser runs it in
// Chromium.
func TestWidgetInNode(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI")
		}
		t.Skip("node not installed")
	}
	widget := filepath.Join("..", "qrlogin", "widget", "ukeygate.js")
	g := newGateway(t)
	recorded, events := recordSession(t, g)
	tests := []struct {
		name, lang, transport string
		replay                bool // watch a replay of a recorded stream (no phone)
		ttl                   int
		scan                  bool
		end                   func(s *portal.Session, id string)
		wantStates            []string
		wantStatus            string
		wantRefresh           bool
	}{
		{"login completed, long-poll, zh", "zh", "longpoll", false, 0, true,
			func(s *portal.Session, id string) { g.confirm(id, s.Code) },
			[]string{"loading", "waiting", "scanned", "completed"}, "已完成", false},
		{"gateway repeats old events", "zh", "longpoll", true, 0, false,
			func(*portal.Session, string) {},
			[]string{"loading", "waiting", "scanned", "completed"}, "已完成", false},
		{"rejected on the phone, en", "en", "longpoll", false, 0, true,
			func(_ *portal.Session, id string) { g.reject(id) },
			[]string{"loading", "waiting", "scanned", "rejected"}, "Rejected on the phone", true},
		{"expired by the gateway, auto transport", "en", "auto", false, 3, false,
			func(*portal.Session, string) {}, // the gateway expires it after 3 s
			[]string{"loading", "waiting", "expired"}, "The QR code has expired", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.replay || tc.ttl > 0 {
				// These wait (a replay, an expiry) and leave the phone
				// alone: they run together after the others.
				t.Parallel()
			}
			var s *portal.Session
			var rg *replayGateway
			if tc.replay {
				rg = newReplayGateway(t, events)
				c := *recorded
				base := rg.srv.URL + "/v1/sessions/" + c.ID
				c.ExpiresAt = time.Now().Add(2 * time.Minute)
				c.QR.PNGURL, c.QR.SVGURL = base+"/qr.png", base+"/qr.svg"
				c.Watch = portal.Watch{WSURL: "ws" + strings.TrimPrefix(base, "http") + "/ws", EventsURL: base + "/events", Token: "t"}
				s = &c
			} else {
				req := loginRequest()
				req.TTLSeconds = tc.ttl
				var err error
				if s, err = g.client().CreateSession(testCtx(t), req); err != nil {
					t.Fatal(err)
				}
			}
			sj, _ := json.Marshal(map[string]any{"id": s.ID, "state": s.State, "expires_at": s.ExpiresAt, "code": s.Code, "qr": s.QR, "watch": s.Watch})
			cmd := exec.Command(node, filepath.Join("testdata", "widget_node.js"), widget, string(sj), tc.lang, tc.transport)
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			lines := make(chan widgetLine)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stdout)
				sc.Buffer(make([]byte, 1<<20), 1<<20)
				for sc.Scan() {
					var l widgetLine
					if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
						t.Errorf("widget printed %q", sc.Text())
						continue
					}
					lines <- l
				}
			}()
			lastSeen := int64(0)
			readAny := func() widgetLine {
				t.Helper()
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatal("the widget exited early")
					}
					if l.Seen != nil {
						if *l.Seen <= lastSeen {
							t.Errorf("event %d handled after event %d", *l.Seen, lastSeen)
						}
						lastSeen = *l.Seen
					}
					return l
				case <-time.After(15 * time.Second): // failure guard
					t.Fatal("the widget said nothing")
				}
				return widgetLine{}
			}
			// read returns the next line that is not a "seen" report.
			read := func() widgetLine {
				t.Helper()
				for {
					if l := readAny(); l.Seen == nil {
						return l
					}
				}
			}
			// waitSeen reads until the widget handled event n.
			waitSeen := func(n int64) {
				t.Helper()
				for lastSeen < n {
					if l := readAny(); l.Seen == nil {
						t.Fatalf("unexpected line while waiting for event %d: %+v", n, l)
					}
				}
			}

			var states []string
			var l widgetLine
			// "loading" while createSession runs, then "waiting" as soon as
			// the session is shown.
			states = append(states, read().State, read().State)
			waitSeen(1) // it is watching and has the waiting event
			id := s.ID
			if tc.scan {
				id = g.scan(s.QR.Payload)
			}
			lastSeq := int64(2)
			if tc.wantStates[2] == "scanned" {
				l = read()
				states = append(states, l.State)
				if l.Seq == nil || *l.Seq != 2 || l.Attr != "scanned" {
					t.Fatalf("scanned line = %+v", l)
				}
				waitSeen(2)
				lastSeq = 3
			}
			tc.end(s, id)
			l = read()
			states = append(states, l.State)
			if l.Status != tc.wantStatus || l.Attr != l.State {
				t.Errorf("final line = %+v, want status %q", l, tc.wantStatus)
			}
			if !slices.Equal(states, tc.wantStates) {
				t.Fatalf("states = %v, want %v", states, tc.wantStates)
			}
			dom := read().DOM
			if dom == nil {
				t.Fatal("no DOM report")
			}
			spaced := strings.Join(strings.Split(s.Code, ""), " ")
			label := map[string]string{"zh": "匹配码 ", "en": "Matching code "}[tc.lang] + spaced
			if dom.Session != s.ID || dom.Seq != strconv.FormatInt(lastSeq, 10) || dom.Code != s.Code || dom.CodeLabel != label ||
				dom.Live != "polite" || dom.QRAlt == "" || dom.RefreshHidden == tc.wantRefresh {
				t.Errorf("DOM = %+v (want code label %q, refresh shown %v)", dom, label, tc.wantRefresh)
			}
			if !strings.HasPrefix(dom.QRSrc, s.QR.PNGURL) || !strings.Contains(dom.QRSrc, "token="+s.Watch.Token) {
				t.Errorf("QR src = %q, want png_url with the watch token", dom.QRSrc)
			}
			if tc.transport == "longpoll" {
				if dom.Transport != "longpoll" {
					t.Errorf("transport = %q", dom.Transport)
				}
				want := []string{"poll:0", "poll:1", "poll:2"}
				if rg != nil {
					rg.mu.Lock()
					if !slices.Equal(rg.after, want) {
						t.Errorf("replay requests = %v, want after=0,1,2", rg.after)
					}
					rg.mu.Unlock()
				} else if req := g.proxy.Watches(); len(req) < 3 || !slices.Equal(req[len(req)-3:], want) {
					t.Errorf("watch requests = %v, want after=0,1,2 at the end", req)
				}
			}
			if d := read(); d.Destroyed == nil || !*d.Destroyed {
				t.Errorf("destroy left the DOM: %+v", d)
			}
			if tc.wantStates[len(tc.wantStates)-1] == string(portal.StateCompleted) {
				r := read()
				var res portal.LoginResult
				if err := json.Unmarshal(r.Result, &res); err != nil {
					t.Fatalf("onResult got %s: %v", r.Result, err)
				}
				if _, err := portal.VerifyLogin(&res, portal.LoginExpect{Session: s.ID, App: g.appID, Origin: bidOrigin}); err != nil {
					t.Fatalf("the result the widget passed on: %v", err)
				}
			}
			for l := range lines {
				t.Errorf("unexpected line after the end: %+v", l)
			}
		})
	}
}
