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
	// ErrRestoreInterrupted: the data_dir holds the leftover of a restore
	// that did not finish and no data file; serving would start an empty
	// store in its place.
	ErrRestoreInterrupted = errors.New("server: a restore into this data_dir did not finish")
)
