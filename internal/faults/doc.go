// Package faults holds hzhook's fault tests: real processes (nats-server built from the module,
// receiver, worker) are killed, stopped and restarted under load, and every event is then checked by
// id. They run with `make faults` (HZ_FAULTS=1) and print one table: scenario, events sent, 204s,
// stored, lost (must be 0), duplicates (must be 0).
package faults
