package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestMalformedFilters: every query parameter of every read, given a
// malformed value (an id cut short, mistyped or of another kind, an
// unknown state, a bad number, limit, cursor or date), repeated, or
// unknown where the endpoint has a fixed set, is answered 400 with a
// stable code naming the parameter, and records nothing (the audit head
// and the listings stay as they were), where it used to be answered as
// if the filter matched nobody or were absent. A well-formed id of no
// user is not malformed: it lists nothing. The audit's filters match
// the recorded text, which any printable id may be.
func TestMalformedFilters(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "filters SM2 Root")},
		Users:   []seed.User{{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}}},
	})
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	app := map[string]string{"Authorization": "Bearer " + w.appKey}
	user := w.alice.State.UserID
	key, err := w.alice.State.Key()
	if err != nil {
		t.Fatal(err)
	}
	signed := func(path string) *resp {
		return w.send(deviceRequest(t, "GET", w.url+path, nil, w.alice.State.DeviceID, key, time.Now()))
	}
	s := w.create(map[string]any{"kind": "login", "origin": sxOrigin})
	tok := "token=" + s.Watch.Token
	sess := "/v1/sessions/" + s.ID

	// Ids of the right kind but the wrong form: cut short, one letter
	// the gateway never uses, in capitals, one character too many, of
	// another kind.
	badUsers := []string{
		user[:len(user)-3],
		user[:len(user)-1] + "o",
		strings.ToUpper(user),
		user + "0",
		"crd_" + strings.TrimPrefix(user, protocol.UserIDPrefix),
		"usr_nobody",
	}
	const bad = protocol.CodeInvalidRequest
	type check struct {
		path  string
		field string // "": accepted
		code  string
	}
	var cases []check
	for _, id := range badUsers {
		cases = append(cases,
			check{"/v1/admin/seals?owner=" + id, "owner", bad},
			check{"/v1/admin/credentials?user=" + id, "user", bad},
		)
	}
	cases = append(cases,
		// Accepted: the real user, and a well-formed id of nobody.
		check{"/v1/admin/seals?owner=" + user, "", ""},
		check{"/v1/admin/seals?owner=usr_0000000000000000", "", ""},
		check{"/v1/admin/credentials?user=usr_0000000000000000", "", ""},
		// The audit's filters match recorded text: any printable id.
		check{"/v1/admin/audit?user=usr_0000000000000000", "", ""},
		check{"/v1/admin/audit?user=" + user[:8], "", ""},
		check{"/v1/admin/audit?user=usr%20x", "user", bad},
		check{"/v1/admin/audit?app=" + strings.Repeat("a", 129), "app", bad},

		check{"/v1/admin/seals?owner=" + user + "&owner=" + user, "owner", bad},
		check{"/v1/admin/seals?user=" + user, "user", bad},
		check{"/v1/admin/credentials?state=valid", "state", bad},
		check{"/v1/admin/credentials?issuer=SM2%20Root", "issuer", bad},
		check{"/v1/admin/credentials?expiring=30x", "expiring", bad},
		check{"/v1/admin/credentials?expiring=0", "expiring", bad},
		check{"/v1/admin/credentials?expiring=99999", "expiring", bad},
		check{"/v1/admin/credentials?state=active&state=revoked", "state", bad},
		check{"/v1/admin/credentials?owner=" + user, "owner", bad},
		check{"/v1/admin/audit?since=2026-01-02", "since", bad},
		check{"/v1/admin/audit?until=yesterday", "until", bad},
		check{"/v1/admin/audit?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until", bad},
		check{"/v1/admin/audit?after=-1", "after", bad},
		check{"/v1/admin/audit?limit=0", "limit", bad},
		check{"/v1/admin/audit?limit=ten", "limit", bad},
		check{"/v1/admin/audit?limit=1000000", "limit", bad},
		check{"/v1/admin/audit?limit=1&limit=2", "limit", bad},
		check{"/v1/admin/audit?from=2026-01-02T00:00:00Z", "from", bad},
		check{"/v1/admin/audit/verify?full=1", "full", bad},
		check{"/v1/admin/audit/segment?limit=0", "limit", bad},
		check{"/v1/admin/audit/segment?limit=x", "limit", bad},
		check{"/v1/admin/audit/archive?limit=1", "limit", bad},
		check{"/v1/admin/backup?full=1", "full", bad},
		check{"/v1/admin/registrations?state=open", "state", bad},
		check{"/v1/admin/registrations?owner=" + user, "owner", bad},
		// Reads without any filter refuse one, rather than answer the
		// whole list as if it were the filtered one.
		check{"/v1/admin/issuers?mode=external", "mode", bad},
		check{"/v1/admin/apps?name=x", "name", bad},
		check{"/v1/admin/users?name=alice", "name", bad},
		check{"/v1/admin/users/" + user + "?fields=all", "fields", bad},
		check{"/v1/admin/users/" + user + "/data?format=csv", "format", bad},
		check{"/v1/admin/users/" + user + "/delegations?state=active", "state", bad},
		check{"/v1/admin/apps/" + w.appID + "/webhook?x=1", "x", bad},
		check{"/v1/admin/operators?role=admin", "role", bad},
		check{"/v1/admin/escrow?x=1", "x", bad},
		check{"/v1/admin/escrow/recoveries?state=open", "state", bad},
		check{"/v1/admin/escrow/recoveries/rcv_x?x=1", "x", bad},
		check{"/v1/admin/escrow/rotations?state=open", "state", bad},
		check{"/v1/admin/escrow/rotations/rot_x?x=1", "x", bad},
		check{"/v1/admin/registrations/reg_x?x=1", "x", bad},
		check{"/v1/issuers?alg=SM2", "alg", bad},
	)
	adminCases := len(cases)
	appCases := []check{
		{"/v1/webhook/deliveries?after=x", "after", protocol.CodeInvalidCursor},
		{"/v1/webhook/deliveries?limit=0", "limit", bad},
		{"/v1/webhook/deliveries?limit=many", "limit", bad},
		{"/v1/webhook/deliveries?limit=1000000", "limit", bad},
		{sess + "/events?after=-1", "after", bad},
		{sess + "/events?after=1&after=2", "after", bad},
		{sess + "/events?wait=soon", "wait", bad},
		{sess + "/events?wait=1&wait=2", "wait", bad},
		{sess + "/qr.png?size=big", "size", protocol.CodeInvalidSize},
		{sess + "/qr.png?size=256&size=512", "size", bad},
		// Unknown parameters of the session reads are let be (a
		// browser's cache buster): documented.
		{sess + "/events?" + tok + "&_=1700000000", "", ""},
	}
	// The session's reads with its watch token instead of the app key.
	watchCases := []check{
		{sess + "?" + tok + "&" + tok, "token", bad},
		{sess + "/events?" + tok + "&" + tok, "token", bad},
		{sess + "?" + tok + "&_=1700000000", "", ""},
	}
	phoneCases := []check{
		{"/v1/me/history?limit=0", "limit", bad},
		{"/v1/me/history?before=0", "before", bad},
		{"/v1/me/history?before=x", "before", bad},
		{"/v1/me/history?user=" + user, "user", bad},
		{"/v1/me/credentials?state=valid", "state", bad},
		{"/v1/me/credentials?user=" + user[:8], "user", bad},
		{"/v1/me/credentials?all=1", "all", bad},
		{"/v1/me/delegations?state=active", "state", bad},
		{"/v1/me/data?format=csv", "format", bad},
	}

	// What a refusal must leave as it was: the audit log's head, the
	// seals and the credentials.
	state := func() string {
		var v struct {
			Head    string `json:"head"`
			Entries int64  `json:"entries"`
		}
		w.must(w.do("GET", "/v1/admin/audit/verify", nil, admin), http.StatusOK).decode(t, &v)
		seals := w.must(w.do("GET", "/v1/admin/seals", nil, admin), http.StatusOK)
		creds := w.must(w.do("GET", "/v1/admin/credentials", nil, admin), http.StatusOK)
		return v.Head + "\n" + string(seals.body) + "\n" + string(creds.body)
	}
	var all []check
	all = append(append(append(append(all, cases...), appCases...), watchCases...), phoneCases...)
	for i, c := range all {
		before := state()
		var r *resp
		switch {
		case i < adminCases:
			r = w.do("GET", c.path, nil, admin)
		case i < adminCases+len(appCases):
			r = w.do("GET", c.path, nil, app)
		case i < adminCases+len(appCases)+len(watchCases):
			r = w.do("GET", c.path, nil, nil)
		default:
			r = signed(c.path)
		}
		if c.field == "" {
			if r.status != http.StatusOK {
				t.Errorf("%s: %d %s, want 200", c.path, r.status, r.body)
			}
			if strings.Contains(c.path, "usr_0000000000000000") && strings.Contains(c.path, "/seals") && !strings.Contains(string(r.body), `"seals":[]`) {
				t.Errorf("%s: %s, want no seals", c.path, r.body)
			}
			continue
		}
		if r.status != http.StatusBadRequest || r.code != c.code || r.field != c.field {
			t.Errorf("%s: got %d %q field %q (%s), want 400 %s field %q", c.path, r.status, r.code, r.field, r.body, c.code, c.field)
		}
		if after := state(); after != before {
			t.Errorf("%s: the refusal changed the state:\n%s\nthen\n%s", c.path, before, after)
		}
	}
}
