package certsync

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

const org = "demo"

// fixture is a fake Hardenize API with n certificates, a client of it that does not wait in
// real time, and a real JetStream with HZ_EVENTS.
type fixture struct {
	api   *hardenizetest.Server
	c     *hardenize.Client
	conn  *queue.Conn
	certs []events.Certificate
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	api := hardenizetest.NewServer(org)
	t.Cleanup(api.Close)
	c, err := hardenize.New(hardenize.Options{BaseURL: api.BaseURL(), Org: org, Credentials: api.Credentials(),
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	require.NoError(t, err)
	conn, _ := testenv.JetStream(t)
	f := &fixture{api: api, c: c, conn: conn}
	added := time.Now().Add(-time.Hour)
	for i := range n {
		cert, err := hardenizetest.NewCert(hardenizetest.CertSpec{Hosts: []string{hostName(i)}})
		require.NoError(t, err)
		require.NoError(t, api.AddCert(cert, added))
		f.certs = append(f.certs, cert)
	}
	return f
}

func hostName(i int) string {
	return "www" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example.com"
}

func (f *fixture) deps() Deps {
	return Deps{API: f.c, Publisher: queue.NewPublisher(f.conn.JS), Log: testenv.DiscardLog()}
}

// stored counts the pki.cert.new messages in HZ_EVENTS by certificate sha256 and returns them
// with their headers.
func (f *fixture) stored(t *testing.T) (bySHA map[string]int, msgs []storedMsg) {
	t.Helper()
	ctx := context.Background()
	s, err := f.conn.JS.Stream(ctx, queue.StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	bySHA = map[string]int{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		ev, err := events.ParseEnvelope(m.Data)
		require.NoError(t, err, "every message is a Hardenize event")
		cert, _, _, err := events.DecodeCertificate(ev)
		require.NoError(t, err, "and a valid pki.cert.new")
		bySHA[cert.SHA256]++
		msgs = append(msgs, storedMsg{header: m.Header, event: ev, cert: cert})
	}
	return bySHA, msgs
}

type storedMsg struct {
	header map[string][]string
	event  events.Event
	cert   events.Certificate
}
