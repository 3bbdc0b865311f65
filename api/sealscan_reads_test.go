package api

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// listingStore is a real store that counts the listings that reach it,
// by prefix.
type listingStore struct {
	storage.Store
	mu    sync.Mutex
	lists map[string]int
}

func (s *listingStore) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	s.mu.Lock()
	s.lists[prefix]++
	s.mu.Unlock()
	return s.Store.List(ctx, prefix)
}

// reset forgets the listings counted so far.
func (s *listingStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists = map[string]int{}
}

// count is how many listings of prefix reached the store.
func (s *listingStore) count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists[prefix]
}

// TestScanSealListings: a scan offers the user's usable seals
// (usableSeals), checking each for a pending re-issue. Whatever the
// number of seals, it lists the renewals' markers of the user once when
// some seal is expired and not at all when none is, and the user's
// credentials once: where every expired seal cost a listing of the
// markers (and every active one a listing of the credentials). The seals
// offered are the active ones.
func TestScanSealListings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &listingStore{Store: storagetest.MustOpen(t), lists: map[string]int{}}
	now := time.Now()
	cfg := ca.DefaultConfig()
	cfg.Now = func() time.Time { return now }
	svc, err := ca.New(st, bytes.Repeat([]byte{0x42}, 32), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddIssuer(ctx, ca.IssuerRequest{ID: "sm2", Name: "Test SM2", Mode: ca.ModeInternal, Alg: gmcrypto.AlgSM2,
		Generate: true, Subject: ca.Subject{CommonName: "Test SM2 Root", Country: "CN"}}); err != nil {
		t.Fatal(err)
	}
	a := &API{ca: svc, log: slog.New(slog.DiscardHandler)}
	img := testkit.SquarePNG(t)

	type user struct {
		id     string
		creds  []*ca.Credential
		active []string
	}
	// enrolled makes a user with a signing credential, seals that end
	// in a day (expiring) and seals of 3 years (active).
	enrolled := func(t *testing.T, name string, expiring, active int) *user {
		t.Helper()
		dev, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
		if err != nil {
			t.Fatal(err)
		}
		devPEM, err := gmcrypto.MarshalPublicKeyPEM(dev.Public())
		if err != nil {
			t.Fatal(err)
		}
		u, code, err := svc.AddUser(ctx, ca.UserRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Enroll(ctx, code, devPEM, "test phone", "246810"); err != nil {
			t.Fatal(err)
		}
		cred, err := svc.CreateCredential(ctx, ca.CredentialRequest{UserID: u.ID, IssuerID: "sm2", Alg: gmcrypto.AlgSM2,
			Purpose: ca.PurposeSign, PIN: "246810"})
		if err != nil {
			t.Fatal(err)
		}
		out := &user{id: u.ID, creds: []*ca.Credential{cred}}
		for i := range expiring + active {
			days := 0
			if i < expiring {
				days = 1
			}
			sl, err := svc.CreateSeal(ctx, ca.SealRequest{Owner: u.ID, Name: fmt.Sprintf("%s 章 %d", name, i), Kind: seal.KindContract,
				ImagePNG: img, WidthMM: 40, HeightMM: 40, ValidityDays: days})
			if err != nil {
				t.Fatal(err)
			}
			if days == 0 {
				out.active = append(out.active, sl.ID)
			}
		}
		return out
	}
	cases := []struct {
		name             string
		expired, active  int
		wantMarkerLists  int
		wantCredIdxLists int
	}{
		{"three expired, one active", 3, 1, 1, 1},
		{"five expired", 5, 0, 1, 0},
		{"none expired", 0, 3, 0, 1},
	}
	users := make([]*user, len(cases))
	for i, tc := range cases {
		users[i] = enrolled(t, fmt.Sprintf("user%d", i), tc.expired, tc.active)
	}
	now = now.Add(2 * 24 * time.Hour) // the one-day seals have expired
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := users[i]
			st.reset()
			got, err := a.usableSeals(ctx, &session.Session{}, u.id, u.creds)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
			}
			slices.Sort(ids)
			slices.Sort(u.active)
			if !slices.Equal(ids, u.active) {
				t.Errorf("seals offered %v, want the active ones %v", ids, u.active)
			}
			if n := st.count("sealreissues/" + u.id + "/"); n != tc.wantMarkerLists {
				t.Errorf("the renewals' markers listed %d times, want %d", n, tc.wantMarkerLists)
			}
			if n := st.count("usercreds/" + u.id + "/"); n != tc.wantCredIdxLists {
				t.Errorf("the user's credentials listed %d times, want %d", n, tc.wantCredIdxLists)
			}
			for prefix, n := range st.lists {
				if strings.HasPrefix(prefix, "sealreissues/") && prefix != "sealreissues/"+u.id+"/" {
					t.Errorf("%d listings of %s, another user's markers", n, prefix)
				}
			}
		})
	}
}
