package server

import "errors"

// Sentinel errors of package server, checked with errors.Is.
var (
	// ErrMasterKey: the master key is missing, malformed or too exposed.
	ErrMasterKey = errors.New("server: no usable master key")
	// ErrMasterKeyExists: CreateMasterKey refuses to overwrite a key file.
	ErrMasterKeyExists = errors.New("server: master key file already exists")
	// ErrStore: the configured store could not be opened.
	ErrStore = errors.New("server: cannot open the store")
)
