package faults

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// holdingProxy forwards TCP connections to a target and can hold back what the clients send
// (their acknowledgements, say) while still passing on what the target sends them. A client
// connection that ends ends its target connection too, as a killed process's would.
type holdingProxy struct {
	ln      net.Listener
	target  string
	holding atomic.Bool
	held    atomic.Int64 // bytes the clients sent that are not passed on yet
}

func startHoldingProxy(t *testing.T, target string) *holdingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &holdingProxy{ln: ln, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(c) })
		}
	})
	return p
}

func (p *holdingProxy) Addr() string { return p.ln.Addr().String() }

// Hold stops passing on what clients send (it is kept, not dropped); Release passes it on again.
func (p *holdingProxy) Hold()    { p.holding.Store(true) }
func (p *holdingProxy) Release() { p.holding.Store(false) }

func (p *holdingProxy) serve(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	chunks := make(chan []byte, 4096)
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	go func() { // read what the client sends as it comes, so that its end is seen at once
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				chunks <- bytes.Clone(buf[:n])
			}
			if err != nil {
				done <- struct{}{}
				return
			}
		}
	}()
	go func() { // and pass it on, unless held
		for b := range chunks {
			p.held.Add(int64(len(b)))
			for p.holding.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			p.held.Add(-int64(len(b)))
			if _, err := u.Write(b); err != nil {
				return
			}
		}
	}()
	<-done // either side ended: end both (what was held is lost, as a killed process's unsent data)
}
