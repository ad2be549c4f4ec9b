package emulator

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/functions"
)

// What the local runner shows of itself and lets a developer change while
// it runs (the inspector's controls): the faults in force, the schedules,
// the functions' settings, and the messages published per topic.

// Faults returns the delivery faults in force, defaults filled in.
func (l *Local) Faults() Faults { return l.dispatcher.currentFaults() }

// Schedules lists the scheduled functions, for RunSchedule.
func (l *Local) Schedules() []string {
	var names []string
	for _, d := range l.decls {
		if d.Kind == functions.Schedule {
			names = append(names, d.Name)
		}
	}
	slices.Sort(names)
	return names
}

// FunctionsEnv returns a variable of the functions' environment.
func (l *Local) FunctionsEnv(key string) (string, bool) { return l.sup.lookupEnv(key) }

// SetFunctionsEnv changes one variable of the functions' environment (a
// setting such as PUBLISH_EVENTS) and rolls the functions host over to a
// new one that reads it, as a new revision is rolled out on Cloud Run:
// requests in flight finish on the old host, new ones go to the new host.
func (l *Local) SetFunctionsEnv(ctx context.Context, key, value string) error {
	l.sup.setEnv(key, value)
	return l.sup.replace(ctx)
}

// Published returns how many messages were published on each topic since
// the stack started; nil unless Options.PublishCounts.
func (l *Local) Published() map[string]int64 {
	if l.published == nil {
		return nil
	}
	return l.published.snapshot()
}

// publishCounter counts the messages of every topic through a subscription
// of its own: the functions publish straight to the Pub/Sub emulator, so
// this is where the runner sees them.
type publishCounter struct {
	mu     sync.Mutex
	counts map[string]int64
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (p *publishCounter) snapshot() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

func (p *publishCounter) stop() {
	p.cancel()
	p.done.Wait()
}

// countPublished subscribes to every topic before any function runs, so
// the counts start at the first message.
func (l *Local) countPublished(ctx context.Context, c *pubsub.Client) error {
	rctx, cancel := context.WithCancel(context.Background())
	p := &publishCounter{counts: map[string]int64{}, cancel: cancel}
	l.published = p
	for _, topic := range functions.Topics() {
		p.counts[topic] = 0
		name := fmt.Sprintf("projects/%s/subscriptions/runner-count-%s", l.ProjectID, topic)
		_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: name, Topic: topicName(l.ProjectID, topic), AckDeadlineSeconds: 60,
		})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("subscribe the counter to %s: %w", topic, err)
		}
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			err := c.Subscriber(name).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
				m.Ack()
				p.mu.Lock()
				p.counts[topic]++
				p.mu.Unlock()
			})
			if err != nil && rctx.Err() == nil {
				l.log.Error("publish counter stopped", "topic", topic, "error", err.Error())
			}
		}()
	}
	return nil
}
