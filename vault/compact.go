package vault

import (
	"context"

	"github.com/ukeygate/ukeygate/storage"
)

var _ storage.Compactor = (*sealedStore)(nil)

// Compact implements storage.Compactor: it compacts the store underneath
// when that store can (both of ukeygate's stores can), and does nothing
// otherwise.
func (s *sealedStore) Compact(ctx context.Context) error {
	if c, ok := s.inner.(storage.Compactor); ok {
		return c.Compact(ctx)
	}
	return nil
}

// OpenValue returns the plaintext of one value as it lies in the raw store
// under key (sealed under master), for a dump of the store, such as the
// test that an erased account left nothing readable behind. A value under
// ReservedPrefix is returned as it is.
func OpenValue(master []byte, key string, value []byte) ([]byte, error) {
	if reserved(key) {
		return value, nil
	}
	mk, err := deriveKeys(master)
	if err != nil {
		return nil, err
	}
	defer mk.zero()
	return keySet{mk.id: mk}.open(key, value)
}
