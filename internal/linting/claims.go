package linting

import "sync"

// recentSize bounds how many certificates a stage remembers as linted.
const recentSize = 1 << 14

// claims keeps concurrent batches of one stage from linting one certificate twice: a batch claims
// a certificate before linting it, and a certificate claimed by another batch, or linted recently
// by this stage, is skipped. Skipping a claimed one is safe without waiting: the batch holding
// the claim lints it or fails, and then its own message is retried. Across replicas the store's
// fingerprint check does the same, less tightly. Keys are fingerprint + "/" + sha256.
type claims struct {
	mu       sync.Mutex
	inflight map[string]bool
	recent   map[string]bool
	order    []string // of recent, oldest first once full: a ring
	next     int
}

func newClaims() *claims {
	return &claims{inflight: map[string]bool{}, recent: make(map[string]bool, recentSize), order: make([]string, 0, recentSize)}
}

// known reports whether key was linted recently.
func (c *claims) known(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recent[key]
}

// claim takes key unless another batch holds it or it was linted recently.
func (c *claims) claim(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight[key] || c.recent[key] {
		return false
	}
	c.inflight[key] = true
	return true
}

// release gives key back; stored says its run is committed.
func (c *claims) release(key string, stored bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, key)
	if stored {
		c.remember(key)
	}
}

// remember records key as linted, forgetting the oldest beyond recentSize.
func (c *claims) remember(key string) {
	if c.recent[key] {
		return
	}
	if len(c.order) < recentSize {
		c.order = append(c.order, key)
	} else {
		delete(c.recent, c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % recentSize
	}
	c.recent[key] = true
}
