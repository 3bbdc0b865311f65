package webhook

import (
	"testing"
	"time"
)

// TestDeliveryIDsSortByCreation: ids made in one millisecond (a fixed
// clock) sort in the order they were made, up to the 4,096 the counter
// holds; every id has the documented shape and carries its millisecond.
func TestDeliveryIDsSortByCreation(t *testing.T) {
	at := time.UnixMilli(1_764_900_000_123)
	prev := ""
	for i := range 4096 {
		id, err := newDeliveryID(at)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := idTime(id); !ok || !got.Equal(at) || !ValidDeliveryID(id) {
			t.Fatalf("id %q: time %v, valid %v", id, got, ok)
		}
		if id <= prev {
			t.Fatalf("id %d %q does not sort after %q", i, id, prev)
		}
		prev = id
	}
	later, err := newDeliveryID(at.Add(time.Millisecond))
	if err != nil || later <= prev {
		t.Fatalf("an id of the next millisecond %q sorts before %q (%v)", later, prev, err)
	}
}
