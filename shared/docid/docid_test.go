package docid

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		id   string
		want string // a substring of the problem; "" means valid
	}{
		{"abc", ""},
		{"Zx9_-.~", ""},
		{"é", ""},
		{strings.Repeat("x", MaxBytes), ""},
		{strings.Repeat("é", MaxBytes/2), ""}, // 1500 bytes
		{"__", ""},                            // too short to be __.*__
		{"___", ""},
		{"__x", ""},
		{"x__", ""},
		{"...", ""},
		{"", "empty"},
		{strings.Repeat("x", MaxBytes+1), "1500 bytes"},
		{strings.Repeat("é", MaxBytes/2) + "x", "1500 bytes"},
		{"\xff", "UTF-8"},
		{"a\xc3", "UTF-8"},
		{"a/b", `"/"`},
		{"/", `"/"`},
		{"x/presence/y", `"/"`},
		{".", `"."`},
		{"..", `"."`},
		{"____", "__"},
		{"__x__", "__"},
		{"__.*__", "__"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			p := Problem(tt.id)
			err := Check(tt.id)
			if tt.want == "" {
				require.Empty(t, p)
				require.NoError(t, err)
				return
			}
			require.Contains(t, p, tt.want)
			require.True(t, errors.Is(err, ErrInvalid))
		})
	}
}
