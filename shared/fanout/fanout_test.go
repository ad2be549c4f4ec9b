package fanout

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestPublishersDoNotWaitToBundle: both topics keep per-session order, and
// neither holds a run's messages back for the library's default 10 ms. No
// server is needed: the client dials lazily and nothing is published.
func TestPublishersDoNotWaitToBundle(t *testing.T) {
	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, "p", option.WithEndpoint("127.0.0.1:1"), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	p := NewPublisher(client, "experience-events", "session-lifecycle")
	t.Cleanup(p.Stop)
	for name, topic := range map[string]*pubsub.Publisher{"events": p.topic, "lifecycle": p.lifecycle} {
		require.True(t, topic.EnableMessageOrdering, name)
		require.LessOrEqual(t, topic.PublishSettings.DelayThreshold, time.Millisecond, name)
	}
}
