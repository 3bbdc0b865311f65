package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadConfig: any config file gives a valid Config or a one-line-able
// error, never a panic.
func FuzzLoadConfig(f *testing.F) {
	for _, seed := range []string{
		"listen: 127.0.0.1:8080\nsession:\n  ttl: 30s\n",
		"storage: {backend: etcd, etcd: {endpoints: [a:1, b:2]}}\n",
		"log: 3\n",
		"session: [\n",
		"pin:\n  max_tries: 2.5\n",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfigFile(path)
		if err != nil {
			if strings.TrimSpace(oneLine(err.Error())) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("loadConfigFile returned an invalid config: %v", err)
		}
	})
}
