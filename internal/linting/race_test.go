//go:build race

package linting

// raceEnabled: the race detector makes zlint some ten times slower.
const raceEnabled = true
