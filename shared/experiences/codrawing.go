package experiences

import "slices"

// Limits of a co-drawing canvas, so a snapshot stays far below Firestore's
// 1 MiB document limit whatever is drawn: 300 strokes of at most 100
// points, each coordinate at most MaxCoordinateChars characters ("0.1234":
// a 10,000-step grid is finer than any screen). Worst case, about 1.5 KB a
// stroke and 455 KB a canvas; the property test in experiences_test.go
// encodes it.
const (
	MaxStrokes         = 300
	MaxStrokePoints    = 100
	MaxCoordinateChars = 6
	maxCoDrawingState  = 480 << 10
)

// Stroke is one line on the shared canvas.
type Stroke struct {
	ID     string `json:"strokeId"`
	Color  string `json:"color"`
	Points string `json:"points"`
}

// CoDrawingState is the canvas: strokes in drawing order.
type CoDrawingState struct {
	Strokes []Stroke `json:"strokes"`
}

// CoDrawing is drawing together on one canvas.
var CoDrawing = Define(Definition[CoDrawingState]{
	ID:            "co_drawing",
	SchemaVersion: 1,
	MaxStateBytes: maxCoDrawingState,
	Events: map[string]Schema{
		"stroke_added":   {"strokeId": ID(64), "color": Color(), "points": Points(MaxStrokePoints)},
		"stroke_removed": {"strokeId": ID(64)},
		"canvas_cleared": {},
	},
	Initial: func() CoDrawingState { return CoDrawingState{Strokes: []Stroke{}} },
	Reduce: func(s CoDrawingState, e Event) CoDrawingState {
		switch e.Type {
		case "stroke_added":
			id := e.Data["strokeId"]
			if slices.ContainsFunc(s.Strokes, func(st Stroke) bool { return st.ID == id }) {
				return s // a stroke is added once
			}
			strokes := append(slices.Clone(s.Strokes), Stroke{ID: id, Color: e.Data["color"], Points: e.Data["points"]})
			if len(strokes) > MaxStrokes {
				// The canvas keeps the newest strokes, as a whiteboard that
				// fades its oldest lines.
				strokes = strokes[len(strokes)-MaxStrokes:]
			}
			return CoDrawingState{Strokes: strokes}
		case "stroke_removed":
			id := e.Data["strokeId"]
			return CoDrawingState{Strokes: slices.DeleteFunc(slices.Clone(s.Strokes), func(st Stroke) bool { return st.ID == id })}
		case "canvas_cleared":
			return CoDrawingState{Strokes: []Stroke{}}
		}
		return s
	},
})
