//go:build race

package bench_test

// raceEnabled: the test binary was built with -race, whose runtime drops
// sync.Pool entries at random and allocates more; TestAllocsPerSession
// then shows its figures without holding them to the bounds.
const raceEnabled = true
