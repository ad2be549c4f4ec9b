package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/functions"
)

// startPubSub creates every declared topic on the Pub/Sub emulator and, for
// each Pub/Sub function, a subscription whose messages the runner delivers
// to the function as Eventarc's messagePublished CloudEvents. A message is
// acknowledged only when the function answers 2xx; otherwise the emulator
// redelivers it, as Pub/Sub does for a function deployed with retry.
//
// The subscription is the one Eventarc makes for a trigger: no message
// ordering (a trigger has no such setting), so a function sees a session's
// messages concurrently and in any order, as deployed. Delivery is bounded
// by the function's concurrency, one instance's worth.
func (l *Local) startPubSub(ctx context.Context) error {
	client, err := pubsub.NewClient(ctx, l.ProjectID,
		option.WithEndpoint(l.PubSubHost),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	for _, t := range functions.Topics() {
		if err := ensureTopic(ctx, client, l.ProjectID, t); err != nil {
			return err
		}
	}
	if l.opts.PublishCounts {
		if err := l.countPublished(ctx, client); err != nil {
			return err
		}
	}
	for _, d := range l.decls {
		if d.Kind != functions.PubSub {
			continue
		}
		f, err := l.startFeeder(ctx, client, d)
		if err != nil {
			return err
		}
		l.feeders = append(l.feeders, f)
	}
	return nil
}

func ensureTopic(ctx context.Context, c *pubsub.Client, project, topic string) error {
	_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName(project, topic)})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

func topicName(project, topic string) string { return "projects/" + project + "/topics/" + topic }

type feeder struct {
	name   string
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu    sync.Mutex
	stats PubSubStats
	keys  map[string]int64 // deliveries in flight per ordering key
}

// PubSubStats counts one Pub/Sub function's messages: each delivery is
// acknowledged (the function answered 2xx) or not (the emulator redelivers
// it, as Pub/Sub does for a function deployed with retry). InFlight counts
// the deliveries being made now, MaxInFlight the most at once so far, and
// MaxKeyInFlight the most of one ordering key (one session) at once.
// Recent lists the last deliveries, newest last.
type PubSubStats struct {
	Acked          int64            `json:"acked"`
	Nacked         int64            `json:"nacked"`
	InFlight       int64            `json:"inFlight"`
	MaxInFlight    int64            `json:"maxInFlight"`
	MaxKeyInFlight int64            `json:"maxKeyInFlight"`
	Recent         []PubSubDelivery `json:"recent,omitempty"`
}

// PubSubDelivery is one delivery of a message to a function.
type PubSubDelivery struct {
	MessageID string `json:"messageId"`
	Attempt   int    `json:"attempt"`
	Acked     bool   `json:"acked"`
}

// recentDeliveries bounds PubSubStats.Recent.
const recentDeliveries = 1000

func (f *feeder) begin(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.InFlight++
	f.stats.MaxInFlight = max(f.stats.MaxInFlight, f.stats.InFlight)
	if key != "" {
		f.keys[key]++
		f.stats.MaxKeyInFlight = max(f.stats.MaxKeyInFlight, f.keys[key])
	}
}

// count ends a delivery begun with begin.
func (f *feeder) count(key string, d PubSubDelivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.InFlight--
	if key != "" {
		if f.keys[key]--; f.keys[key] == 0 {
			delete(f.keys, key)
		}
	}
	if d.Acked {
		f.stats.Acked++
	} else {
		f.stats.Nacked++
	}
	if len(f.stats.Recent) == recentDeliveries {
		f.stats.Recent = append(f.stats.Recent[:0], f.stats.Recent[1:]...)
	}
	f.stats.Recent = append(f.stats.Recent, d)
}

func (f *feeder) stop() {
	f.cancel()
	f.done.Wait()
}

// PubSubDeliveries returns each Pub/Sub function's counts so far.
func (l *Local) PubSubDeliveries() map[string]PubSubStats {
	out := map[string]PubSubStats{}
	for _, f := range l.feeders {
		f.mu.Lock()
		st := f.stats
		st.Recent = slices.Clone(st.Recent)
		f.mu.Unlock()
		out[f.name] = st
	}
	return out
}

// Subscription is the full name of the subscription that feeds the
// Pub/Sub function name.
func (l *Local) Subscription(name string) string {
	return fmt.Sprintf("projects/%s/subscriptions/eventarc-%s", l.ProjectID, name)
}

func (l *Local) startFeeder(ctx context.Context, c *pubsub.Client, d functions.Declaration) (*feeder, error) {
	subName := l.Subscription(d.Name)
	_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:               subName,
		Topic:              topicName(l.ProjectID, d.Topic),
		AckDeadlineSeconds: 60,
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return nil, fmt.Errorf("subscribe %s to %s: %w", d.Name, d.Topic, err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	f := &feeder{cancel: cancel, name: d.Name, keys: map[string]int64{}}
	f.done.Add(1)
	go func() {
		defer f.done.Done()
		sub := c.Subscriber(subName)
		sub.ReceiveSettings.MaxOutstandingMessages = max(d.Size.Concurrency, 1)
		err := sub.Receive(rctx, func(ctx context.Context, m *pubsub.Message) {
			f.begin(m.OrderingKey)
			attempt := 1
			if m.DeliveryAttempt != nil {
				attempt = *m.DeliveryAttempt
			}
			_, err := l.invoke(ctx, d, attempt, func(host *url.URL) (*http.Request, error) {
				return l.messagePublishedRequest(ctx, host, d, subName, m)
			})
			f.count(m.OrderingKey, PubSubDelivery{MessageID: m.ID, Attempt: attempt, Acked: err == nil})
			if err != nil {
				m.Nack()
				return
			}
			m.Ack()
		})
		if err != nil && rctx.Err() == nil {
			l.log.Error("pubsub feeder stopped", "function", d.Name, "error", err.Error())
		}
	}()
	return f, nil
}

// messagePublishedRequest builds the binary-mode CloudEvent Eventarc sends
// for a Pub/Sub message (type google.cloud.pubsub.topic.v1.messagePublished,
// data MessagePublishedData in JSON).
func (l *Local) messagePublishedRequest(ctx context.Context, host *url.URL, d functions.Declaration, subName string, m *pubsub.Message) (*http.Request, error) {
	body, err := json.Marshal(map[string]any{
		"message": map[string]any{
			"data":        m.Data, // []byte marshals as base64, as Pub/Sub's JSON does
			"attributes":  m.Attributes,
			"messageId":   m.ID,
			"publishTime": m.PublishTime.UTC().Format(time.RFC3339Nano),
			"orderingKey": m.OrderingKey,
		},
		"subscription": subName,
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, host.JoinPath(d.Name).String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", m.ID)
	h.Set("Ce-Type", "google.cloud.pubsub.topic.v1.messagePublished")
	h.Set("Ce-Source", "//pubsub.googleapis.com/"+topicName(l.ProjectID, d.Topic))
	h.Set("Ce-Time", m.PublishTime.UTC().Format(time.RFC3339Nano))
	return req, nil
}
