package experiences

import (
	"fmt"
	"testing"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

// The pure hot paths of the pipeline: Validate runs once per client event in
// the sequencing transaction, Fold once per event in compaction (and in any
// client-side replay). `make bench` runs these with -benchmem and copies the
// lines into bench/RESULTS.md.
//
//	go test -run '^$' -bench . -benchmem ./shared/experiences/

// sink keeps results alive so the compiler cannot drop the work measured.
var sink any

func BenchmarkValidate(b *testing.B) {
	cases := []struct {
		name string
		x    Experience
		typ  string
		data map[string]string
	}{
		{"co_reading/page_changed", CoReading, "page_changed", map[string]string{"pageIndex": "1234"}},
		{"co_reading/story_selected", CoReading, "story_selected", map[string]string{"storyId": "story-42"}},
		{"co_drawing/stroke_added", CoDrawing, "stroke_added", map[string]string{
			"strokeId": "stroke-7", "color": "#12AB34", "points": points(50)}},
		{"co_drawing/stroke_added_max", CoDrawing, "stroke_added", map[string]string{
			"strokeId": "stroke-7", "color": "#12AB34", "points": points(MaxStrokePoints)}},
		{"co_reading/invalid", CoReading, "page_changed", map[string]string{"pageIndex": "012"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var err error
			for b.Loop() {
				err = c.x.Validate(c.typ, c.data)
			}
			sink = err
		})
	}
}

func BenchmarkFold(b *testing.B) {
	reading := make([]Event, 1000)
	reading[0] = Event{Type: "story_selected", SenderID: "u1", Data: map[string]string{"storyId": "story-1"}}
	for i := 1; i < len(reading); i++ {
		reading[i] = Event{Type: "page_changed", SenderID: "u1", Data: map[string]string{"pageIndex": fmt.Sprint(i % 10000)}}
	}
	// A canvas that fills up, loses some strokes and keeps drawing: the
	// reducer clones the stroke list on every change, so this is its worst
	// realistic case.
	drawing := make([]Event, 1000)
	for i := range drawing {
		switch {
		case i%10 == 9:
			drawing[i] = Event{Type: "stroke_removed", SenderID: "u2", Data: map[string]string{"strokeId": fmt.Sprint("s", i-5)}}
		default:
			drawing[i] = Event{Type: "stroke_added", SenderID: "u2", Data: map[string]string{
				"strokeId": fmt.Sprint("s", i), "color": "#000000", "points": points(20)}}
		}
	}
	system := []Event{
		{Type: model.ParticipantJoined, SenderID: "system", Data: map[string]string{"userId": "u1", "created": "true"}},
		{Type: model.ParticipantJoined, SenderID: "system", Data: map[string]string{"userId": "u2"}},
	}
	cases := []struct {
		name   string
		x      Experience
		events []Event
	}{
		{"co_reading/1000_events", CoReading, append(system, reading...)},
		{"co_drawing/1000_events", CoDrawing, append(system, drawing...)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var s State
			for b.Loop() {
				s = Fold(c.x, NewState(c.x), c.events...)
			}
			sink = s
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.events)), "ns/event")
		})
	}
}

// points is a valid Points value with n points.
func points(n int) string {
	b := make([]byte, 0, n*10)
	for i := range n {
		if i > 0 {
			b = append(b, ';')
		}
		b = fmt.Appendf(b, "%.3f,%.3f", float64(i%100)/100, float64((i*7)%100)/100)
	}
	return string(b)
}
