//go:build !race

package linting

const raceEnabled = false
