// Package dlq holds the operator's dead-letter operations on HZ_DLQ: list (with reason, attempts
// and paging), show, redrive back into the original stream, and purge, one by one or by filter.
// Dead letters are written by the dispatcher through queue.Publisher.DeadLetter; this package only
// reads, moves and deletes them. Every operation is safe for concurrent use.
package dlq
