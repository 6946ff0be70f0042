// Package receivertest boots a real receiver for other packages' tests, as net/http/httptest does
// a server: loopback listeners on free ports, an embedded JetStream server, a hooks file.
package receivertest
