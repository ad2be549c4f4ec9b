package experiences

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// worstStroke is the largest stroke_added validation accepts.
func worstStroke(i int) Event {
	pt := "0.1234,0.9876"
	pts := make([]string, MaxStrokePoints)
	for j := range pts {
		pts[j] = pt
	}
	id := fmt.Sprintf("%064d", i)
	return Event{Type: "stroke_added", Data: map[string]string{"strokeId": id, "color": "#AABBCCDD", "points": strings.Join(pts, ";")}}
}

// TestStateBoundHolds: for every experience, the worst case and random
// sequences of valid events encode within MaxStateBytes.
func TestStateBoundHolds(t *testing.T) {
	check := func(t *testing.T, x Experience, events []Event) {
		t.Helper()
		s := x.Initial()
		for _, e := range events {
			require.NoError(t, x.Validate(e.Type, e.Data), "%s %v", e.Type, e.Data)
			s = x.Reduce(s, e)
		}
		raw, err := x.EncodeState(s)
		require.NoError(t, err)
		require.LessOrEqual(t, len(raw), x.MaxStateBytes(), "%s state of %d bytes", x.ID(), len(raw))
	}
	t.Run("co_drawing worst case", func(t *testing.T) {
		var evs []Event
		for i := range MaxStrokes + 50 {
			evs = append(evs, worstStroke(i))
		}
		check(t, CoDrawing, evs)
	})
	t.Run("co_reading worst case", func(t *testing.T) {
		check(t, CoReading, []Event{
			{Type: "story_selected", Data: map[string]string{"storyId": strings.Repeat("x", 128)}},
			{Type: "page_changed", Data: map[string]string{"pageIndex": "9999"}},
		})
	})
	t.Run("random valid sequences", func(t *testing.T) {
		r := rand.New(rand.NewSource(7))
		for range 20 {
			var evs []Event
			for i := range 2 * MaxStrokes {
				switch r.Intn(10) {
				case 0:
					evs = append(evs, Event{Type: "stroke_removed", Data: map[string]string{"strokeId": fmt.Sprintf("%064d", r.Intn(i+1))}})
				case 1:
					if r.Intn(20) == 0 {
						evs = append(evs, Event{Type: "canvas_cleared", Data: map[string]string{}})
					}
				default:
					evs = append(evs, worstStroke(i))
				}
			}
			check(t, CoDrawing, evs)
		}
	})
	for _, pts := range []string{"0.12345678901234,0.5", "NaN,0.5", "0.5,NaN", "Inf,0"} {
		t.Run("refused points "+pts, func(t *testing.T) {
			err := CoDrawing.Validate("stroke_added", map[string]string{"strokeId": "s", "color": "#000000", "points": pts})
			require.ErrorIs(t, err, ErrInvalidData)
		})
	}
}

// TestDefineRequiresBound: an experience that does not bound its state
// cannot be defined.
func TestDefineRequiresBound(t *testing.T) {
	require.Panics(t, func() {
		Define(Definition[int]{ID: "x", SchemaVersion: 1, Initial: func() int { return 0 }, Reduce: func(s int, _ Event) int { return s }})
	})
}
