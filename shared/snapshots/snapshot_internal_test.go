package snapshots

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUpdatesNameEveryField: the compare-and-set write replaces every
// field a Set of the Snapshot would write.
func TestUpdatesNameEveryField(t *testing.T) {
	var tags []string
	st := reflect.TypeOf(Snapshot{})
	for i := range st.NumField() {
		tags = append(tags, strings.Split(st.Field(i).Tag.Get("firestore"), ",")[0])
	}
	var paths []string
	for _, u := range (Snapshot{}).updates() {
		paths = append(paths, u.Path)
	}
	require.ElementsMatch(t, tags, paths)
}
