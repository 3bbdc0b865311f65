// Command ukeygate is the one binary of ukeygate: the gateway server
// (serve), its setup (init) and the operator and test commands.
package main
