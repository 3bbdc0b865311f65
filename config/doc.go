// Package config holds ukeygate's configuration as plain structs: Config,
// its Default values and Validate, which names the bad key and why.
//
// The mapstructure tags are the keys of config.example.yaml. Filling a
// Config from a file and UKEYGATE_… environment variables is the job of
// cmd/ukeygate (viper); this package must never import viper, read files,
// flags or the environment, nor hold logic beyond checking values.
package config
