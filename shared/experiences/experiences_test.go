package experiences

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/stretchr/testify/require"
)

// randomEvent draws a mix of valid, invalid, inapplicable and system events
// for x, with few distinct ids so adds, removes and duplicates collide.
func randomEvent(r *rand.Rand, x Experience) Event {
	users := []string{"u1", "u2", "u3"}
	e := Event{SenderID: users[r.Intn(len(users))], Data: map[string]string{}}
	switch r.Intn(10) {
	case 0:
		e.Type = []string{model.ParticipantJoined, model.ParticipantLeft, model.OwnerChanged}[r.Intn(3)]
		e.Data["userId"] = users[r.Intn(3)]
		e.Data["newOwnerId"] = users[r.Intn(3)]
		return e
	case 1:
		e.Type = "no_such_type"
		return e
	}
	switch x.ID() {
	case "co_reading":
		e.Type = []string{"story_selected", "page_changed", "story_closed"}[r.Intn(3)]
		switch e.Type {
		case "story_selected":
			e.Data["storyId"] = fmt.Sprintf("story-%d", r.Intn(3))
		case "page_changed":
			e.Data["pageIndex"] = []string{"0", "3", "9999", "10000", "-1", "03", "x"}[r.Intn(7)]
		}
	case "co_drawing":
		e.Type = []string{"stroke_added", "stroke_added", "stroke_removed", "canvas_cleared"}[r.Intn(4)]
		switch e.Type {
		case "stroke_added":
			e.Data["strokeId"] = fmt.Sprintf("s%d", r.Intn(8))
			e.Data["color"] = []string{"#ff0000", "#00FF00aa", "red"}[r.Intn(3)]
			e.Data["points"] = []string{"0,0;0.5,0.5", "1,1", "2,2", ""}[r.Intn(4)]
		case "stroke_removed":
			e.Data["strokeId"] = fmt.Sprintf("s%d", r.Intn(8))
		}
	}
	return e
}

// accepted keeps what the pipeline would accept: system events (the
// server's own) and client events that pass Validate.
func accepted(x Experience, events []Event) []Event {
	var out []Event
	for _, e := range events {
		if model.IsSystemType(e.Type) || x.Validate(e.Type, e.Data) == nil {
			out = append(out, e)
		}
	}
	return out
}

// snapshotRoundTrip encodes and decodes the experience state, as a snapshot
// written and read back does.
func snapshotRoundTrip(t *testing.T, x Experience, s State) State {
	raw, err := x.EncodeState(s.Experience)
	require.NoError(t, err)
	s.Experience, err = x.DecodeState(x.SchemaVersion(), raw)
	require.NoError(t, err)
	return s
}

func deepCopy(t *testing.T, x Experience, s State) (State, json.RawMessage) {
	raw, err := x.EncodeState(s.Experience)
	require.NoError(t, err)
	return State{Participants: append([]string(nil), s.Participants...), OwnerID: s.OwnerID, Ended: s.Ended}, raw
}

// TestFoldProperties: for random histories of every registered experience,
// (1) folding the whole history equals folding a prefix, snapshotting it
// (encode + decode) and folding the rest, at any split; (2) Fold never
// changes its input state; (3) an event of a type the experience does not
// know changes nothing. Invalid data is not covered: the pipeline never
// accepts it, and Reduce does not validate again (an event accepted under
// an older schema must fold as the clients folded it).
func TestFoldProperties(t *testing.T) {
	reg := Default()
	for _, id := range reg.IDs() {
		x, _ := reg.Lookup(id)
		t.Run(id, func(t *testing.T) {
			for seed := int64(1); seed <= 300; seed++ {
				r := rand.New(rand.NewSource(seed))
				raw := make([]Event, r.Intn(80))
				for i := range raw {
					raw[i] = randomEvent(r, x)
				}
				events := accepted(x, raw)
				whole := Fold(x, NewState(x), events...)

				split := 0
				if len(events) > 0 {
					split = r.Intn(len(events) + 1)
				}
				prefix := Fold(x, NewState(x), events[:split]...)
				before, beforeRaw := deepCopy(t, x, prefix)
				resumed := Fold(x, snapshotRoundTrip(t, x, prefix), events[split:]...)
				require.Equal(t, snapshotRoundTrip(t, x, whole), resumed, "seed %d split %d", seed, split)

				// Folding more must not have changed the prefix state.
				_ = Fold(x, prefix, events[split:]...)
				after, afterRaw := deepCopy(t, x, prefix)
				require.Equal(t, before, after, "seed %d: Fold mutated its input", seed)
				require.JSONEq(t, string(beforeRaw), string(afterRaw), "seed %d: Reduce mutated its input", seed)

				for _, e := range raw {
					if model.IsSystemType(e.Type) || !errors.Is(x.Validate(e.Type, e.Data), ErrUnknownType) {
						continue
					}
					require.Equal(t, whole.Experience, x.Reduce(whole.Experience, e), "seed %d: an unknown %s was applied", seed, e.Type)
				}
			}
		})
	}
}

func TestCoReading(t *testing.T) {
	x := CoReading
	tests := []struct {
		name   string
		events []Event
		want   CoReadingState
	}{
		{"page before story is ignored", []Event{{Type: "page_changed", Data: map[string]string{"pageIndex": "4"}}}, CoReadingState{}},
		{"select opens full screen at page 0", []Event{{Type: "story_selected", Data: map[string]string{"storyId": "s"}}}, CoReadingState{SelectedStoryID: "s", IsFullScreenMode: true}},
		{"page turns", []Event{
			{Type: "story_selected", Data: map[string]string{"storyId": "s"}},
			{Type: "page_changed", Data: map[string]string{"pageIndex": "7"}},
		}, CoReadingState{SelectedStoryID: "s", CurrentPageIndex: 7, IsFullScreenMode: true}},
		{"another story restarts at page 0", []Event{
			{Type: "story_selected", Data: map[string]string{"storyId": "s"}},
			{Type: "page_changed", Data: map[string]string{"pageIndex": "7"}},
			{Type: "story_selected", Data: map[string]string{"storyId": "t"}},
		}, CoReadingState{SelectedStoryID: "t", IsFullScreenMode: true}},
		{"close", []Event{
			{Type: "story_selected", Data: map[string]string{"storyId": "s"}},
			{Type: "story_closed", Data: map[string]string{}},
		}, CoReadingState{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Fold(x, NewState(x), tt.events...).Experience)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		x       Experience
		typ     string
		data    map[string]string
		wantErr error
	}{
		{CoReading, "page_changed", map[string]string{"pageIndex": "12"}, nil},
		{CoReading, "page_changed", map[string]string{"pageIndex": "10000"}, ErrInvalidData},
		{CoReading, "page_changed", map[string]string{"pageIndex": "012"}, ErrInvalidData},
		{CoReading, "page_changed", map[string]string{"pageIndex": " 1"}, ErrInvalidData},
		{CoReading, "page_changed", map[string]string{}, ErrInvalidData},
		{CoReading, "page_changed", map[string]string{"pageIndex": "1", "extra": "x"}, ErrInvalidData},
		{CoReading, "story_selected", map[string]string{"storyId": "a b"}, ErrInvalidData},
		{CoReading, "story_closed", map[string]string{}, nil},
		{CoReading, "stroke_added", map[string]string{}, ErrUnknownType},
		{CoReading, model.ParticipantJoined, map[string]string{"userId": "u"}, ErrUnknownType},
		{CoDrawing, "stroke_added", map[string]string{"strokeId": "s1", "color": "#AABBCC", "points": "0,0;1,1"}, nil},
		{CoDrawing, "stroke_added", map[string]string{"strokeId": "s1", "color": "blue", "points": "0,0"}, ErrInvalidData},
		{CoDrawing, "stroke_added", map[string]string{"strokeId": "s1", "color": "#AABBCC", "points": "0,0;1.5,1"}, ErrInvalidData},
	}
	for _, tt := range tests {
		t.Run(tt.x.ID()+"/"+tt.typ, func(t *testing.T) {
			err := tt.x.Validate(tt.typ, tt.data)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestCoDrawingBounded(t *testing.T) {
	s := NewState(CoDrawing)
	for i := range MaxStrokes + 10 {
		s = Fold(CoDrawing, s, Event{Type: "stroke_added", Data: map[string]string{"strokeId": fmt.Sprint("s", i), "color": "#000000", "points": "0,0"}})
	}
	strokes := s.Experience.(CoDrawingState).Strokes
	require.Len(t, strokes, MaxStrokes)
	require.Equal(t, "s10", strokes[0].ID, "the oldest strokes go first")
}

func TestDecodeStateVersions(t *testing.T) {
	raw, err := CoReading.EncodeState(CoReadingState{SelectedStoryID: "s"})
	require.NoError(t, err)
	_, err = CoReading.DecodeState(2, raw)
	require.ErrorIs(t, err, ErrSchemaVersion, "a newer snapshot is never misread")
	_, err = CoReading.DecodeState(0, raw)
	require.ErrorIs(t, err, ErrSchemaVersion)
	got, err := CoReading.DecodeState(1, raw)
	require.NoError(t, err)
	require.True(t, reflect.DeepEqual(CoReadingState{SelectedStoryID: "s"}, got))
}

// FuzzValidate: no data may panic a validator.
func FuzzValidate(f *testing.F) {
	f.Add("page_changed", "pageIndex", "3")
	f.Add("stroke_added", "points", "0,0;1,1")
	f.Add("story_selected", "storyId", "x")
	f.Fuzz(func(t *testing.T, typ, key, value string) {
		for _, id := range Default().IDs() {
			x, _ := Default().Lookup(id)
			if x.Validate(typ, map[string]string{key: value}) == nil {
				_ = Fold(x, NewState(x), Event{Type: typ, Data: map[string]string{key: value}})
			}
		}
	})
}
