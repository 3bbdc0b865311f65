package api_test

import (
	"net/http"
	"strconv"
	"testing"
)

// TestUserViewAudited: looking at one user's record (name, ID number,
// phone, devices, credentials: GET /v1/admin/users/{id}) is audited as
// user.view naming the operator who looked and the user, once per answer
// given; listing every user's record is one user.list entry (operator,
// how many). A refused look (no token, an unknown or malformed id) writes
// nothing. The chain verifies afterwards.
func TestUserViewAudited(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice")
	var u1, u2 struct {
		ID string `json:"id"`
	}
	w.must(w.do("POST", "/v1/admin/users", map[string]string{"name": "张三", "id_number": "110101199003070011", "phone": "13800138000"}, w.admin), http.StatusCreated).decode(t, &u1)
	w.must(w.do("POST", "/v1/admin/users", map[string]string{"name": "李四"}, w.admin), http.StatusCreated).decode(t, &u2)

	type entry struct {
		Seq     int64  `json:"seq"`
		Action  string `json:"action"`
		Actor   string `json:"actor"`
		User    string `json:"user"`
		Outcome string `json:"outcome"`
		Detail  string `json:"detail"`
	}
	last := func() int64 {
		var page struct {
			Entries []entry `json:"entries"`
		}
		w.must(w.do("GET", "/v1/admin/audit?limit=1000", nil, w.admin), http.StatusOK).decode(t, &page)
		if n := len(page.Entries); n > 0 {
			return page.Entries[n-1].Seq
		}
		return 0
	}
	since := func(after int64) []entry {
		var page struct {
			Entries []entry `json:"entries"`
		}
		w.must(w.do("GET", "/v1/admin/audit?after="+strconv.FormatInt(after, 10), nil, w.admin), http.StatusOK).decode(t, &page)
		return page.Entries
	}

	for _, tc := range []struct {
		name   string
		as     string // "" no token
		path   string
		status int
		want   *entry // the one entry written; nil: none
	}{
		{"the admin looks at a user", "admin", "/v1/admin/users/" + u1.ID, 200,
			&entry{Action: "user.view", Actor: "admin", User: u1.ID, Outcome: "ok"}},
		{"a named operator looks at another", "alice", "/v1/admin/users/" + u2.ID, 200,
			&entry{Action: "user.view", Actor: "operator:alice", User: u2.ID, Outcome: "ok"}},
		{"the same look again is another entry", "alice", "/v1/admin/users/" + u2.ID, 200,
			&entry{Action: "user.view", Actor: "operator:alice", User: u2.ID, Outcome: "ok"}},
		{"the list of every user", "alice", "/v1/admin/users", 200,
			&entry{Action: "user.list", Actor: "operator:alice", Outcome: "ok", Detail: "users=2"}},
		{"no token", "", "/v1/admin/users/" + u1.ID, 401, nil},
		{"no token, the list", "", "/v1/admin/users", 401, nil},
		{"an unknown user", "admin", "/v1/admin/users/usr_0000000000000000", 404, nil},
		{"a malformed id", "admin", "/v1/admin/users/x%20y", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := last()
			hdr := map[string]string{}
			if tc.as != "" {
				hdr = w.as(tc.as)
			}
			r := w.do("GET", tc.path, nil, hdr)
			if tc.status != 0 && r.status != tc.status || tc.status == 0 && r.status < 400 {
				t.Fatalf("answer %d %s, want %d: %s", r.status, r.code, tc.status, r.body)
			}
			got := since(before)
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("a refused look wrote %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("entries written: %+v, want one %+v", got, *tc.want)
			}
			g := got[0]
			g.Seq = 0
			if g != *tc.want {
				t.Fatalf("entry %+v, want %+v", g, *tc.want)
			}
		})
	}
	var v struct {
		Valid bool `json:"valid"`
	}
	w.must(w.do("GET", "/v1/admin/audit/verify", nil, w.admin), http.StatusOK).decode(t, &v)
	if !v.Valid {
		t.Fatal("the audit chain does not verify")
	}
}
