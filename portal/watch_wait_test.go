package portal

import (
	"testing"
	"time"
)

// TestWatcherWait: the long-poll's wait= is the session's advice, capped
// under the default client's timeout; 25 s from a server that gives none.
func TestWatcherWait(t *testing.T) {
	c := &Client{BaseURL: "http://127.0.0.1:1", AppKey: "k"}
	for _, tc := range []struct {
		advised int
		want    time.Duration
	}{{0, 25 * time.Second}, {3, 3 * time.Second}, {55, 55 * time.Second}, {60, 55 * time.Second}, {-5, 25 * time.Second}} {
		s := &Session{ID: "s", Watch: Watch{EventsURL: "http://127.0.0.1:1/v1/sessions/s/events", Token: "t", PollWait: tc.advised}}
		w, err := c.newWatcher(s)
		if err != nil {
			t.Fatal(err)
		}
		if w.wait != tc.want {
			t.Errorf("poll_wait %d: wait %s, want %s", tc.advised, w.wait, tc.want)
		}
	}
}
