package auth

import (
	"context"

	"github.com/ukeygate/ukeygate/storage"
)

// maxForgetBatch bounds the deletes of one transaction.
const maxForgetBatch = 100

// ForgetDevice deletes the nonces consumed by a device whose record is
// being deleted (an erased account): they name the device and outlive it
// by the clock-skew window otherwise. Without its record the device's
// requests are refused anyway, replays included.
func (v *DeviceVerifier) ForgetDevice(ctx context.Context, deviceID string) error {
	kvs, _, err := v.store.List(ctx, pfxNonces+deviceID+"/")
	if err != nil {
		return err
	}
	for len(kvs) > 0 {
		n := min(len(kvs), maxForgetBatch)
		ops := make([]storage.Op, 0, n)
		for _, kv := range kvs[:n] {
			ops = append(ops, storage.Delete(kv.Key))
		}
		if _, err := v.store.Txn(ctx, ops...); err != nil {
			return err
		}
		kvs = kvs[n:]
	}
	return nil
}
