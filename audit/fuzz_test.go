package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerifyChain: any export of entries (version 1, version 2, erased)
// is refused or accepted without panicking, and what is accepted is
// accepted again after a JSON round trip (the check depends on nothing
// but the entries). Seeds: testdata/chain-v2.json, a chain of version-1
// and version-2 entries with one erased, and mutations of it.
func FuzzVerifyChain(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "chain-v2.json"))
	if err != nil {
		f.Fatal(err)
	}
	// The stored chain (format version 2, one user erased) must verify for
	// good: the entry format is a storage format.
	var stored []Entry
	if err := json.Unmarshal(seed, &stored); err != nil {
		f.Fatal(err)
	}
	if _, err := VerifyChain(stored); err != nil {
		f.Fatalf("the stored chain no longer verifies: %v", err)
	}
	if stored[2].Salt != "" || stored[2].OnBehalfOf != "usr_org" || stored[1].Salt == "" {
		f.Fatalf("the seed is not the one described: %+v", stored)
	}
	f.Add(seed)
	f.Add(bytes.Replace(seed, []byte(`"v":2`), []byte(`"v":3`), 1))
	f.Add(bytes.Replace(seed, []byte(`"salt":"`), []byte(`"salt":"00`), 1))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []Entry
		if json.Unmarshal(data, &entries) != nil {
			return
		}
		head, err := VerifyChain(entries)
		if err != nil {
			return
		}
		b, _ := json.Marshal(entries)
		var again []Entry
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatal(err)
		}
		if h, err := VerifyChain(again); err != nil || h != head {
			t.Fatalf("accepted once, then %v (%s vs %s)", err, h, head)
		}
	})
}

// TestWriteChainSeed rewrites testdata/chain-v2.json when UPDATE_SEEDS=1.
func TestWriteChainSeed(t *testing.T) {
	if os.Getenv("UPDATE_SEEDS") != "1" {
		t.Skip("UPDATE_SEEDS=1 rewrites the fuzz seed")
	}
	ctx := context.Background()
	l, _ := chainedLog(t, Entry{Action: "user.add", Actor: "admin", UserID: "usr_a", Outcome: OutcomeOK},
		Entry{Action: "sign", Actor: "device:dev_a", UserID: "usr_a", Digest: "ab", Outcome: OutcomeOK},
		Entry{Action: "sign", Actor: "device:dev_b", UserID: "usr_b", OnBehalfOf: "usr_org", Delegation: "dlg_1", Outcome: OutcomeOK},
		Entry{Action: "issuer.add", Actor: "admin", IssuerID: "sm2", Outcome: OutcomeOK},
	)
	if _, err := l.Pseudonymise(ctx, "usr_b", []string{"dev_b"}); err != nil {
		t.Fatal(err)
	}
	all, err := l.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(all)
	if err := os.WriteFile(filepath.Join("testdata", "chain-v2.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
