package experiences

import "slices"

// Limits of a co-drawing canvas, so a snapshot stays far below Firestore's
// 1 MiB document limit: 500 strokes of at most 200 points.
const (
	MaxStrokes      = 500
	MaxStrokePoints = 200
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

// CoDrawing: drawing together on one canvas.
var CoDrawing = Define(Definition[CoDrawingState]{
	ID:            "co_drawing",
	SchemaVersion: 1,
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
