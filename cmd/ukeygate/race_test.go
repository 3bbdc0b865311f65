//go:build race

package main

// raceEnabled: the test binary was built with -race, so the subprocess
// binary is too (it then reuses the compiled packages of the test build).
const raceEnabled = true
