package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
		if err := checkRestoreFinished(cfg); err != nil {
			return nil, err
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

// checkRestoreFinished refuses a bbolt data_dir where a restore was
// interrupted (its temporary file, no data file): opening would create an
// empty store, and a node would serve it as if nothing had been restored.
func checkRestoreFinished(cfg config.Config) error {
	if _, err := os.Lstat(cfg.BoltPath()); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Lstat(cfg.BoltRestoringPath()); err != nil {
		return nil
	}
	return fmt.Errorf("%w: %w: %s is left from a restore that did not finish, and there is no %s: run ukeygate restore again (it starts over), or delete %s to start with an empty store",
		ErrStore, ErrRestoreInterrupted, cfg.BoltRestoringPath(), filepath.Base(cfg.BoltPath()), filepath.Base(cfg.BoltRestoringPath()))
}
