package storage_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/storage"
)

// ValidateTxn refuses two writes of one key wherever they stand, in small
// transactions (compared op by op) and large ones (kept in a map) alike,
// and allows a condition beside a write of the same key.
func TestValidateTxnKeyWrittenTwice(t *testing.T) {
	ops := func(n int) []storage.Op {
		out := make([]storage.Op, n)
		for i := range out {
			out[i] = storage.Put("k/"+strconv.Itoa(i), []byte("v"), 0)
		}
		return out
	}
	for _, n := range []int{2, 3, 16, 17, storage.MaxTxnOps} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			if err := storage.ValidateTxn(ops(n)); err != nil {
				t.Fatalf("distinct keys: %v", err)
			}
			for _, at := range [][2]int{{0, 1}, {0, n - 1}, {n - 2, n - 1}, {n / 2, n - 1}} {
				if at[0] == at[1] {
					continue
				}
				for _, second := range []storage.Op{storage.Put("k/"+strconv.Itoa(at[0]), nil, 0), storage.Delete("k/" + strconv.Itoa(at[0]))} {
					o := ops(n)
					o[at[1]] = second
					err := storage.ValidateTxn(o)
					if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "op "+strconv.Itoa(at[1])+": key written twice") {
						t.Fatalf("key of op %d written again at op %d: %v", at[0], at[1], err)
					}
				}
			}
			o := ops(n)
			o[n-1] = storage.IfRevision("k/0", 3)
			if err := storage.ValidateTxn(o); err != nil {
				t.Fatalf("a condition on a written key: %v", err)
			}
		})
	}
}
