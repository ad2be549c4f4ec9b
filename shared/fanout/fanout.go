// Package fanout publishes what the pipeline decided to Cloud Pub/Sub:
// every accepted event on experience-events, in sequence order per session
// (ordering key = sessionId), and session lifecycle changes on
// session-lifecycle.
//
// # Message format
//
// Data is the JSON of [EventMessage]; the attributes sessionId,
// experienceId, type and sequenceNumber let a subscription filter without
// decoding. Consumers should treat (sessionId, sequenceNumber) as the
// message's identity: a crash between publish and bookkeeping can deliver
// an event twice, never out of order within a session.
package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/pajama-app/sharedexperiences/shared/events"
)

// EventMessage is the data of an experience-events message.
type EventMessage struct {
	SessionID      string            `json:"sessionId"`
	ExperienceID   string            `json:"experienceId"`
	EventID        string            `json:"eventId"`
	Type           string            `json:"type"`
	SenderID       string            `json:"senderId"`
	Data           map[string]string `json:"data"`
	SequenceNumber int64             `json:"sequenceNumber"`
	CreatedAt      time.Time         `json:"createdAt"`
}

// Publisher publishes accepted events to one topic with ordering keys.
type Publisher struct {
	topic *pubsub.Publisher
}

// NewPublisher publishes to topic (an id or a full name) through client.
func NewPublisher(client *pubsub.Client, topic string) *Publisher {
	p := client.Publisher(topic)
	p.EnableMessageOrdering = true
	return &Publisher{topic: p}
}

// Publish implements events.Publisher: it publishes the events in order
// and waits until Pub/Sub has them all. After a failure Pub/Sub pauses the
// ordering key; it is resumed so the retry can publish again.
func (p *Publisher) Publish(ctx context.Context, sessionID string, evs []events.Accepted) error {
	results := make([]*pubsub.PublishResult, 0, len(evs))
	for _, e := range evs {
		data, err := json.Marshal(EventMessage{
			SessionID: sessionID, ExperienceID: e.ExperienceID, EventID: e.DocID, Type: e.Type,
			SenderID: e.SenderID, Data: e.Data, SequenceNumber: e.SequenceNumber, CreatedAt: e.CreatedAt,
		})
		if err != nil {
			return fmt.Errorf("encode event %s: %w", e.DocID, err)
		}
		results = append(results, p.topic.Publish(ctx, &pubsub.Message{
			Data:        data,
			OrderingKey: sessionID,
			Attributes: map[string]string{
				"sessionId":      sessionID,
				"experienceId":   e.ExperienceID,
				"type":           e.Type,
				"sequenceNumber": strconv.FormatInt(e.SequenceNumber, 10),
			},
		}))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			p.topic.ResumePublish(sessionID)
			return err
		}
	}
	return nil
}

// Stop flushes and stops the publisher.
func (p *Publisher) Stop() { p.topic.Stop() }
