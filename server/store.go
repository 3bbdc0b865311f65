package server

import (
	"fmt"
	"os"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/etcd"
)

// OpenStore opens the backend cfg.Storage.Backend names, as it is: values
// sealed by the vault stay sealed (server.New opens the vault over it; the
// offline commands restore and master-key rotate use it directly). Errors
// wrap ErrStore.
func OpenStore(cfg config.Config) (storage.Store, error) {
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
