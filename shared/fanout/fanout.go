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
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Message attributes, for subscription filters and consumers that need no
// decoding.
const (
	AttrSessionID      = "sessionId"
	AttrExperienceID   = "experienceId"
	AttrType           = "type"
	AttrSequenceNumber = "sequenceNumber"
	AttrChange         = "change"
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

// LifecycleMessage is the data of a session-lifecycle message: one per
// membership change, derived from the system event that records it.
type LifecycleMessage struct {
	SessionID      string `json:"sessionId"`
	ExperienceID   string `json:"experienceId"`
	Change         string `json:"change"` // created, joined, left, owner_changed, ended
	UserID         string `json:"userId,omitempty"`
	PreviousOwner  string `json:"previousOwnerId,omitempty"`
	NewOwner       string `json:"newOwnerId,omitempty"`
	Reason         string `json:"reason,omitempty"`
	SequenceNumber int64  `json:"sequenceNumber"`
}

// Publisher publishes accepted events to the events topic, and the system
// events among them also to the lifecycle topic, with ordering keys.
type Publisher struct {
	topic, lifecycle *pubsub.Publisher
}

// bundleDelay is how long the client holds a message for more to bundle
// with it. Publish hands over a run's events in one loop and then waits for
// all of them, with the session's lane held, so the library's default of
// 10 ms is only waiting: it was a quarter of onEventCreated's run (bench,
// onEventCreated's own run). A run's messages are handed over within
// microseconds, so they still bundle as before, up to the library's count
// and byte thresholds.
const bundleDelay = time.Millisecond

// NewPublisher publishes to the two topics (ids or full names) through
// client.
func NewPublisher(client *pubsub.Client, eventsTopic, lifecycleTopic string) *Publisher {
	p := client.Publisher(eventsTopic)
	l := client.Publisher(lifecycleTopic)
	for _, t := range []*pubsub.Publisher{p, l} {
		t.EnableMessageOrdering = true
		t.PublishSettings.DelayThreshold = bundleDelay
	}
	return &Publisher{topic: p, lifecycle: l}
}

// lifecycleChange names the membership change a system event records.
func lifecycleChange(e events.Accepted) string {
	switch e.Type {
	case model.ParticipantJoined:
		if e.Data[model.DataCreated] == "true" {
			return "created"
		}
		return "joined"
	case model.ParticipantLeft:
		return "left"
	case model.OwnerChanged:
		return "owner_changed"
	case model.ExperienceEnded:
		return "ended"
	}
	return ""
}

// Publish implements events.Publisher: it publishes the events in order
// and waits until Pub/Sub has them all. After a failure Pub/Sub pauses the
// ordering key; it is resumed so the retry can publish again.
func (p *Publisher) Publish(ctx context.Context, sessionID string, evs []events.Accepted) error {
	results := make([]*pubsub.PublishResult, 0, len(evs))
	var lifecycle []*pubsub.PublishResult
	for _, e := range evs {
		if change := lifecycleChange(e); change != "" {
			data, err := json.Marshal(LifecycleMessage{
				SessionID: sessionID, ExperienceID: e.ExperienceID, Change: change, UserID: e.Data[model.DataUserID],
				PreviousOwner: e.Data[model.DataPreviousOwnerID], NewOwner: e.Data[model.DataNewOwnerID], Reason: e.Data[model.DataReason],
				SequenceNumber: e.SequenceNumber,
			})
			if err != nil {
				return fmt.Errorf("encode lifecycle of %s: %w", e.DocID, err)
			}
			lifecycle = append(lifecycle, p.lifecycle.Publish(ctx, &pubsub.Message{
				Data: data, OrderingKey: sessionID,
				Attributes: map[string]string{AttrSessionID: sessionID, AttrChange: change},
			}))
		}
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
				AttrSessionID:      sessionID,
				AttrExperienceID:   e.ExperienceID,
				AttrType:           e.Type,
				AttrSequenceNumber: strconv.FormatInt(e.SequenceNumber, 10),
			},
		}))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			p.topic.ResumePublish(sessionID)
			return err
		}
	}
	for _, r := range lifecycle {
		if _, err := r.Get(ctx); err != nil {
			p.lifecycle.ResumePublish(sessionID)
			return err
		}
	}
	return nil
}

// Stop flushes and stops the publishers.
func (p *Publisher) Stop() {
	p.topic.Stop()
	p.lifecycle.Stop()
}
