package auth

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://portal.example.cn", "https://portal.example.cn"},
		{"HTTPS://Portal.Example.CN", "https://portal.example.cn"},
		{"https://portal.example.cn:443", "https://portal.example.cn"},
		{"http://portal.example.cn:80", "http://portal.example.cn"},
		{"http://127.0.0.1:8443", "http://127.0.0.1:8443"},
		{"https://[::1]:9000", "https://[::1]:9000"},
		{"https://[::1]", "https://[::1]"},
		// internationalised hosts: the ASCII form a browser sends (and
		// the phone shows), so that a lookalike reads xn--…
		{"https://例子.测试", "https://xn--fsqu00a.xn--0zwm56d"},
		{"https://b\u0456d.example", "https://xn--bd-hoc.example"},
		{"https://B\u0456D.example:8443", "https://xn--bd-hoc.example:8443"},
		// an address copied from the address bar: one trailing "/"
		{"https://portal.example.cn/", "https://portal.example.cn"},
		{"HTTPS://Portal.Example.CN:443/", "https://portal.example.cn"},
		{"http://portal.example.cn:80/", "http://portal.example.cn"},
		{"http://127.0.0.1:8443/", "http://127.0.0.1:8443"},
		{"https://[::1]:443/", "https://[::1]"},
		{"https://例子.测试/", "https://xn--fsqu00a.xn--0zwm56d"},
		// refused
		{"", ""},
		{"null", ""},
		{"portal.example.cn", ""},
		{"ftp://portal.example.cn", ""},
		{"https://portal.example.cn/login", ""},
		{"https://portal.example.cn/login/", ""},
		{"https://portal.example.cn//", ""},
		{"https://portal.example.cn/.", ""},
		{"https://portal.example.cn/%2F", ""},
		{"https://portal.example.cn/?", ""},
		{"https://portal.example.cn/?x=1", ""},
		{"https://portal.example.cn/#", ""},
		{"https://portal.example.cn/#top", ""},
		{"https://user@portal.example.cn/", ""},
		{"https://portal.example.cn:/", ""},
		{"https:///", ""},
		{"/", ""},
		{"https://portal.example.cn?x=1", ""},
		{"https://portal.example.cn#top", ""},
		{"https://user@portal.example.cn", ""},
		{"https://portal.example.cn:", ""},
		{"https://portal.example.cn:0", ""},
		{"https://portal.example.cn:70000", ""},
		{"https://", ""},
		{"https://" + strings.Repeat("a", 300) + ".cn", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeOrigin(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalidOrigin) {
				t.Errorf("NormalizeOrigin(%q) = %q, %v; want ErrInvalidOrigin", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	// A page's address is refused saying what an origin is, and that the
	// address bar's trailing "/" alone would do.
	if _, err := NormalizeOrigin("https://portal.example.cn/login"); err == nil || !strings.Contains(err.Error(), `a single trailing "/" is allowed`) {
		t.Errorf("a path: %v, want the rule named", err)
	}
}

func TestAppsCreateAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := storagetest.MustOpen(t)
	apps := NewApps(st)

	app, key, err := apps.Create(ctx, " 政府采购网 ", []string{"https://ZFCG.example.cn:443", "https://zfcg.example.cn/", "http://localhost:3000/", "http://localhost:3000"})
	if err != nil {
		t.Fatal(err)
	}
	if app.Name != "政府采购网" || !reflect.DeepEqual(app.Origins, []string{"https://zfcg.example.cn", "http://localhost:3000"}) {
		t.Fatalf("app = %+v", app)
	}
	if !strings.HasPrefix(key, AppKeyPrefix) || len(key) < len(AppKeyPrefix)+26 { // ≥ 128 bits in base32
		t.Fatalf("key %q too short", key)
	}
	// the key is nowhere in the store
	kvs, _, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if strings.Contains(string(kv.Value), key) || strings.Contains(kv.Key, key) {
			t.Fatalf("the app key is stored in clear under %s", kv.Key)
		}
	}

	got, err := apps.Authenticate(ctx, key)
	if err != nil || got.ID != app.ID {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	if g, err := apps.Get(ctx, app.ID); err != nil || !reflect.DeepEqual(g, app) {
		t.Fatalf("Get = %+v, %v; want %+v", g, err, app)
	}
	_, key2, err := apps.Create(ctx, "second", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key2 == key {
		t.Fatal("two apps got the same key")
	}
	list, err := apps.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d apps, %v", len(list), err)
	}

	for _, tt := range []struct {
		key  string
		want error
	}{
		{"", ErrMissingToken},
		{key[:len(key)-1], ErrInvalidToken},
		{key + "a", ErrInvalidToken},
		{strings.TrimPrefix(key, AppKeyPrefix), ErrInvalidToken},
		{AppKeyPrefix + strings.Repeat("a", 200), ErrInvalidToken},
	} {
		if _, err := apps.Authenticate(ctx, tt.key); !errors.Is(err, tt.want) {
			t.Errorf("Authenticate(%q) = %v, want %v", tt.key, err, tt.want)
		}
	}
	if _, err := apps.Get(ctx, "app_nothere"); !errors.Is(err, ErrAppNotFound) {
		t.Errorf("Get(unknown) = %v", err)
	}
	if _, err := apps.Get(ctx, "../users/x"); !errors.Is(err, ErrAppNotFound) {
		t.Errorf("Get(path) = %v", err)
	}

	// What the app allows, as created (normalised), and as older
	// versions stored it: an internationalised host as typed, before
	// hosts were kept in their ASCII form. Each is checked with what a
	// browser sends in Origin and with what a backend may send as a
	// session's origin (as typed, copied from the address bar).
	old := &App{ID: "app_old", Origins: []string{"https://例子.测试"}}
	for _, tt := range []struct {
		app    *App
		origin string
		want   bool
	}{
		{app, "https://zfcg.example.cn", true},
		{app, "https://zfcg.example.cn:443", true},
		{app, "https://zfcg.example.cn/", true},
		{app, "https://ZFCG.example.cn:443/", true},
		{app, "http://localhost:3000", true},
		{app, "http://localhost:3000/", true},
		{app, "https://evil.example.cn", false},
		{app, "null", false},
		{app, "", false},
		{app, "http://zfcg.example.cn", false},
		{app, "http://localhost:3001/", false},
		{app, "https://zfcg.example.cn/login", false},
		{app, "https://zfcg.example.cn//", false},
		{old, "https://xn--fsqu00a.xn--0zwm56d", true},
		{old, "https://xn--fsqu00a.xn--0zwm56d/", true},
		{old, "https://例子.测试", true},
		{old, "https://例子.测试/", true},
		{old, "https://xn--bd-hoc.example", false}, // a lookalike
		{old, "https://例子.example", false},
		{old, "https://例子.测试/x", false},
	} {
		if got := tt.app.AllowsOrigin(tt.origin); got != tt.want {
			t.Errorf("app %s (origins %q) AllowsOrigin(%q) = %v, want %v", tt.app.ID, tt.app.Origins, tt.origin, got, tt.want)
		}
	}
}

func TestAppsCreateRefusedChangesNothing(t *testing.T) {
	ctx := context.Background()
	st := storagetest.MustOpen(t)
	apps := NewApps(st)
	many := make([]string, MaxAppOrigins+1)
	for i := range many {
		many[i] = "https://a" + strings.Repeat("b", i) + ".cn"
	}
	tests := []struct {
		name    string
		appName string
		origins []string
		want    error
	}{
		{"empty name", "  ", nil, ErrInvalidApp},
		{"long name", strings.Repeat("名", MaxAppNameLen+1), nil, ErrInvalidApp},
		{"bidi override in the name", "招标\u202e台平", nil, ErrInvalidApp},
		{"zero-width space in the name", "招标\u200b平台", nil, ErrInvalidApp},
		{"control character", "a\x00b", nil, ErrInvalidApp},
		{"origin with path", "ok", []string{"https://a.cn/x"}, ErrInvalidOrigin},
		{"origin with a path and a trailing slash", "ok", []string{"https://a.cn/x/"}, ErrInvalidOrigin},
		{"origin with two trailing slashes", "ok", []string{"https://a.cn//"}, ErrInvalidOrigin},
		{"one bad origin among good", "ok", []string{"https://a.cn", "a.cn"}, ErrInvalidOrigin},
		{"too many origins", "ok", many, ErrInvalidOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dump(t, st)
			if _, _, err := apps.Create(ctx, tt.appName, tt.origins); !errors.Is(err, tt.want) {
				t.Fatalf("Create = %v, want %v", err, tt.want)
			}
			if after := dump(t, st); after != before {
				t.Fatalf("the store changed: %q -> %q", before, after)
			}
		})
	}
}

// dump lists every key of the store.
func dump(t *testing.T, st storage.Store) string {
	t.Helper()
	kvs, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, kv := range kvs {
		sb.WriteString(kv.Key)
		sb.WriteByte(';')
	}
	return sb.String()
}
