package events

import (
	"testing"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/stretchr/testify/require"
)

func TestOrder(t *testing.T) {
	t0 := time.Now()
	a := model.Event{CreatedAt: t0, ClientSequenceNumber: 2, DocID: "a"}
	tests := []struct {
		name string
		x, y model.Event
	}{
		{"createdAt first", model.Event{CreatedAt: t0, ClientSequenceNumber: 9, DocID: "z"}, model.Event{CreatedAt: t0.Add(time.Microsecond), DocID: "a"}},
		{"then clientSequenceNumber", model.Event{CreatedAt: t0, ClientSequenceNumber: 1, DocID: "z"}, a},
		{"then id", a, model.Event{CreatedAt: t0, ClientSequenceNumber: 2, DocID: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.True(t, before(tt.x, tt.y))
			require.False(t, before(tt.y, tt.x))
		})
	}
	require.False(t, before(a, a))
	c := model.Cursor{CreatedAt: a.CreatedAt, ClientSequenceNumber: a.ClientSequenceNumber, EventID: a.DocID}
	require.False(t, after(c, a), "the cursor's own event is not after it")
	require.True(t, after(model.Cursor{}, a), "everything is after the zero cursor")
}
