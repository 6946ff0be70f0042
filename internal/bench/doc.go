// Package bench holds the reference servers and the runners of `make bench`: the hzhook receiver is
// measured side by side with (a) a bare handler on the same HTTP stack that answers 204 and does
// nothing — the ceiling — and (b) a hand-rolled receiver of the kind users typically write; the
// end-to-end latency from a webhook's 204 to its row in the worker's store is measured at a fixed
// rate; and the ingest package's drain benchmark (also with the lint stage running) and the lint
// package's throughput benchmark are run and read. Each writes its own section of
// bench/results.md. Proc and the helpers beside it start the real binaries for these runs and for
// the fault tests.
package bench
