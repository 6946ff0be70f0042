package queue

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hzhook/hzhook/internal/queue/embedded"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/nats-io/nats.go"
)

// BenchmarkPublishers compares one synchronous publish per message with GroupCommit against an
// embedded server that syncs every write and one that syncs every two minutes (nats-server's
// default), with 32 and 128 concurrent publishers of 4 KiB messages; msgs/s counts answers,
// stored/s the messages in HZ_EVENTS (after the Mover moved the journal's entries). It informs
// which publisher the receiver uses in which mode:
//
//	go test -run '^$' -bench Publishers -benchtime 2000x ./internal/queue/
func BenchmarkPublishers(b *testing.B) {
	body := make([]byte, 4096)
	type publisher interface {
		Publish(context.Context, *nats.Msg, string) (bool, error)
	}
	for _, so := range []embedded.Options{{SyncAlways: true}, {}} {
		for _, publishers := range []int{32, 128} {
			for _, kind := range []string{"plain", "group-commit"} {
				b.Run(fmt.Sprintf("sync=%s/publishers=%d/%s", so.Sync(), publishers, kind), func(b *testing.B) {
					conn := startJetStreamSync(b, so)
					var pub publisher = NewPublisher(conn.JS)
					var g *GroupCommit
					if kind == "group-commit" {
						g = NewGroupCommit(conn.NC, conn.JS, GroupCommitOptions{})
						b.Cleanup(func() { _ = g.Close(context.Background()) })
						pub = g
						mv, err := NewMover(context.Background(), conn.NC, conn.JS, MoverOptions{})
						require.NoError(b, err)
						ctx, cancel := context.WithCancel(context.Background())
						b.Cleanup(cancel)
						go func() { _ = mv.Run(ctx) }()
					}
					var n atomic.Int64
					var wg sync.WaitGroup
					b.ResetTimer()
					for range publishers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for {
								i := n.Add(1)
								if i > int64(b.N) {
									return
								}
								msg := nats.NewMsg(Subject("ct.entry"))
								msg.Data = body
								if _, err := pub.Publish(context.Background(), msg, "bench/"+strconv.FormatInt(i, 10)); err != nil {
									b.Error(err)
									return
								}
							}
						}()
					}
					wg.Wait()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
					// Every message in HZ_EVENTS: the journal's entries moved too.
					s, err := conn.JS.Stream(context.Background(), StreamEvents)
					require.NoError(b, err)
					for {
						info, err := s.Info(context.Background())
						require.NoError(b, err)
						if info.State.Msgs >= uint64(b.N) {
							break
						}
						time.Sleep(time.Millisecond)
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stored/s")
					if g != nil {
						b.ReportMetric(g.m.meanBatch(), "msgs/batch")
						b.ReportMetric(g.m.meanCommit()*1000, "ms/commit")
					}
				})
			}
		}
	}
}

func (m *batchMetrics) meanBatch() float64 {
	var d dto.Metric
	_ = m.messages.Write(&d)
	return d.GetHistogram().GetSampleSum() / float64(d.GetHistogram().GetSampleCount())
}

func (m *batchMetrics) meanCommit() float64 {
	var d dto.Metric
	_ = m.commitSeconds.Write(&d)
	return d.GetHistogram().GetSampleSum() / float64(d.GetHistogram().GetSampleCount())
}
