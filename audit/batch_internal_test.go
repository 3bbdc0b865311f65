package audit

import (
	"testing"

	"github.com/ukeygate/ukeygate/storage"
)

func TestBatchKeysConflicts(t *testing.T) {
	var b batchKeys
	b.add([]storage.Op{storage.IfAbsent("hook/app1"), storage.Put("served/u1/app1", nil, 0), storage.IfRevision("user/u1", 3)})
	for _, c := range []struct {
		name string
		ops  []storage.Op
		want bool
	}{
		{"nothing shared", []storage.Op{storage.Put("served/u2/app1", nil, 0)}, false},
		{"the same condition", []storage.Op{storage.IfAbsent("hook/app1"), storage.Put("x", nil, 0)}, false},
		{"a key written by both", []storage.Op{storage.Put("served/u1/app1", nil, 0)}, true},
		{"a key deleted where another writes", []storage.Op{storage.Delete("served/u1/app1")}, true},
		{"a condition on a key another writes", []storage.Op{storage.IfRevision("served/u1/app1", 2)}, true},
		{"a write of a key another checks", []storage.Op{storage.Put("user/u1", nil, 0)}, true},
		{"no operations", nil, false},
	} {
		if got := b.conflicts(c.ops); got != c.want {
			t.Errorf("%s: conflicts = %v, want %v", c.name, got, c.want)
		}
	}
}
