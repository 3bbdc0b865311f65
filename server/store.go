package server

import (
	"fmt"
	"os"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/etcd"
)

// openStore opens the backend cfg.Storage.Backend names. Errors wrap
// ErrStore.
func openStore(cfg config.Config) (storage.Store, error) {
	switch cfg.Storage.Backend {
	case config.BackendBolt:
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("%w: cannot create data_dir %s: %w", ErrStore, cfg.DataDir, unwrapPath(err))
		}
		bc := storage.DefaultBoltConfig()
		bc.Path = cfg.BoltPath()
		bc.Timeout = cfg.Storage.Bolt.Timeout
		st, err := storage.OpenBolt(bc)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStore, err)
		}
		return st, nil
	case config.BackendEtcd:
		ec := etcd.DefaultConfig()
		ec.Endpoints = cfg.Storage.Etcd.Endpoints
		ec.Prefix = cfg.Storage.Etcd.Prefix
		ec.DialTimeout = cfg.Storage.Etcd.DialTimeout
		st, err := etcd.Open(ec)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStore, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("%w: unknown storage.backend %q", ErrStore, cfg.Storage.Backend)
}
