// Package embedded runs nats-server with JetStream inside the receiver's process, for --dev and
// for a single machine without a NATS deployment. It is apart from package queue so that a
// client of the queue (hzctl, the worker) does not link a NATS server.
package embedded

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an in-process NATS server with JetStream.
type Options struct {
	StoreDir string // JetStream file store; kept across restarts
	Host     string // default 127.0.0.1: never exposed beyond loopback
	Port     int    // 0 picks a free port; -1 is not allowed
	// SyncAlways syncs every write to disk before it is acknowledged (nats-server's
	// sync_interval: always): an acknowledged event survives a power cut. The receiver's default.
	SyncAlways bool
	// SyncInterval, without SyncAlways, is how often the file store is synced in the background
	// (zero: nats-server's default, 2 minutes): what was acknowledged within the last interval may
	// be lost when the machine, not just the process, goes down.
	SyncInterval time.Duration
}

// Server is a running in-process NATS server with JetStream.
type Server struct {
	srv *server.Server
}

// Start starts a NATS server with JetStream in this process and waits until it accepts
// connections. Call Shutdown when done.
func Start(o Options, log *slog.Logger) (*Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "hzhook-embedded",
		Host:       o.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Clean(o.StoreDir),
		NoSigs:     true,
		NoLog:      true,
		// nats-server's own reading of sync_interval: always keeps the default interval beside it.
		SyncAlways:   o.SyncAlways,
		SyncInterval: cmp.Or(max(o.SyncInterval, 0), defaultSyncInterval),
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats on %s:%d not ready after 15s (is the port in use?)", o.Host, o.Port)
	}
	log.Info("embedded nats started", "url", srv.ClientURL(), "store", o.StoreDir, "sync", o.Sync())
	return &Server{srv: srv}, nil
}

// URL is the client URL of the server.
func (e *Server) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped.
func (e *Server) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// Port is the client port the server listens on.
func (e *Server) Port() int { return e.srv.Addr().(*net.TCPAddr).Port }

// defaultSyncInterval is nats-server's background sync interval, kept beside SyncAlways as its
// configuration parser does.
const defaultSyncInterval = 2 * time.Minute

// Sync is the sync setting as --nats-sync writes it: "always" or the interval.
func (o Options) Sync() string {
	if o.SyncAlways {
		return "always"
	}
	return cmp.Or(max(o.SyncInterval, 0), defaultSyncInterval).String()
}

// SyncAlways reports whether the running server syncs every write to disk before acknowledging
// it, as its JetStream configuration says.
func (e *Server) SyncAlways() bool {
	cfg := e.srv.JetStreamConfig()
	return cfg != nil && cfg.SyncAlways
}
