package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestHistory: a user's page holds only their own entries of the asked
// actions, newest first, pages by Before, names apps (once each) and gives
// a refusal's reason.
func TestHistory(t *testing.T) {
	ctx := context.Background()
	l := newLog(t, storagetest.MustOpen(t))
	for i, e := range []audit.Entry{
		{Action: "sign", UserID: "u1", AppID: "a1", Outcome: audit.OutcomeOK},
		{Action: "sign", UserID: "u2", AppID: "a1", Outcome: audit.OutcomeOK},
		{Action: "user.add", UserID: "u1", Outcome: audit.OutcomeOK},
		{Action: "login", UserID: "u1", AppID: "a1", Outcome: audit.OutcomeFailed, Detail: "wrong PIN"},
		{Action: "decrypt", UserID: "u1", AppID: "gone", Outcome: audit.OutcomeOK},
	} {
		e.Actor = fmt.Sprintf("test %d", i)
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	lookups := 0
	names := func(_ context.Context, id string) string {
		lookups++
		if id == "a1" {
			return "portal one"
		}
		return ""
	}
	q := audit.HistoryQuery{UserID: "u1", Actions: []string{"login", "sign", "decrypt"}, Limit: 2}
	page, err := l.History(ctx, q, names)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 2 || page.Entries[0].Action != "decrypt" || page.Entries[0].App.Name != "" ||
		page.Entries[1].Action != "login" || page.Entries[1].Reason != "wrong PIN" || page.Entries[1].App.Name != "portal one" ||
		page.NextBefore != page.Entries[1].Seq {
		t.Fatalf("first page: %+v", page)
	}
	q.Before = page.NextBefore
	page, err = l.History(ctx, q, names)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Action != "sign" || page.Entries[0].App.Name != "portal one" || page.Entries[0].Reason != "" || page.NextBefore != 0 {
		t.Fatalf("second page: %+v", page)
	}
	if lookups != 3 { // gone + a1 on the first page, a1 again on the second
		t.Fatalf("%d app lookups", lookups)
	}
}
