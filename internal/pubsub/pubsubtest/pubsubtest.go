package pubsubtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/verify"
)

// EmulatorHost returns PUBSUB_EMULATOR_HOST. Without it the test is skipped, or fails under CI=true.
func EmulatorHost(t testing.TB) string {
	t.Helper()
	h := os.Getenv("PUBSUB_EMULATOR_HOST")
	if h == "" {
		msg := "PUBSUB_EMULATOR_HOST is not set: run the tests through scripts/with-services.sh to start the Pub/Sub emulator"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return h
}

// AckDeadline is the ack deadline of the subscriptions created here (Pub/Sub's minimum).
const AckDeadline = 10 * time.Second

// Topic is a topic with one subscription in a project of its own on the emulator.
type Topic struct {
	t            testing.TB
	Client       *gpubsub.Client
	Project      string
	TopicID      string
	Subscription string // subscription id
	pub          *gpubsub.Publisher
}

// NewTopic creates a topic and a subscription (ack deadline AckDeadline) in a unique project, so tests
// never see each other's messages. Everything is removed at cleanup.
func NewTopic(t testing.TB) *Topic {
	t.Helper()
	EmulatorHost(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tp := &Topic{t: t, Project: "hz-test-" + hex.EncodeToString(b), TopicID: "events", Subscription: "hzhook"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := gpubsub.NewClient(ctx, tp.Project)
	require.NoError(t, err)
	tp.Client = client
	_, err = client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tp.TopicName()})
	require.NoError(t, err)
	tp.pub = client.Publisher(tp.TopicName())
	t.Cleanup(func() {
		tp.pub.Stop()
		_ = client.Close()
	})
	tp.CreateSubscription()
	return tp
}

// TopicName is the fully qualified topic name.
func (tp *Topic) TopicName() string { return "projects/" + tp.Project + "/topics/" + tp.TopicID }

// SubscriptionName is the fully qualified subscription name.
func (tp *Topic) SubscriptionName() string {
	return "projects/" + tp.Project + "/subscriptions/" + tp.Subscription
}

// CreateSubscription creates the subscription; it already exists after NewTopic unless deleted.
func (tp *Topic) CreateSubscription() {
	tp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := tp.Client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: tp.SubscriptionName(), Topic: tp.TopicName(), AckDeadlineSeconds: int32(AckDeadline / time.Second),
	})
	require.NoError(tp.t, err)
}

// DeleteSubscription removes the subscription.
func (tp *Topic) DeleteSubscription() {
	tp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(tp.t, tp.Client.SubscriptionAdminClient.DeleteSubscription(ctx,
		&pubsubpb.DeleteSubscriptionRequest{Subscription: tp.SubscriptionName()}))
}

// Publish publishes body with attrs and returns the Pub/Sub message id once the emulator stored it.
func (tp *Topic) Publish(body []byte, attrs map[string]string) string {
	tp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := tp.pub.Publish(ctx, &gpubsub.Message{Data: body, Attributes: attrs}).Get(ctx)
	require.NoError(tp.t, err)
	return id
}

// Signed returns the attributes Hardenize sends with body: org, hook id and the signature over
// "t;body" made with secret at time at.
func Signed(org, hook, secret string, at time.Time, body []byte) map[string]string {
	return map[string]string{
		queue.HeaderOrg:       org,
		queue.HeaderHookID:    hook,
		queue.HeaderSignature: verify.Sign(secret, at, body),
	}
}

// Pending pulls without waiting and returns how many messages the subscription would deliver now:
// 0 once everything was acked. The messages pulled are not acked (they come back later).
func (tp *Topic) Pending() int {
	tp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	//nolint:staticcheck // ReturnImmediately is deprecated for production pulls; here it is the point.
	resp, err := tp.Client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
		Subscription: tp.SubscriptionName(), MaxMessages: 100, ReturnImmediately: true,
	})
	if errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		return 0
	}
	require.NoError(tp.t, err)
	return len(resp.ReceivedMessages)
}
