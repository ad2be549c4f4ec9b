package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The rules and the indexes spell the layout a second time, in their own
// languages; these tests hold them to this package's names.

func repoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	require.NoError(t, err)
	return b
}

func TestRulesMatchTheLayout(t *testing.T) {
	rules := string(repoFile(t, "firestore.rules"))
	for _, c := range []string{CallsCollection, SessionsCollection, EventsCollection, SnapshotsCollection, PresenceCollection} {
		require.Contains(t, rules, "match /"+c+"/", "firestore.rules has no match for %s", c)
	}
	for _, f := range []string{FieldParticipants, FieldSenderID, FieldCreatedAt, FieldClientSequenceNumber, FieldData, FieldType, FieldID, FieldLastSeenAt} {
		require.Contains(t, rules, f, "firestore.rules never mentions %s", f)
	}
}

func TestIndexesNameKnownFields(t *testing.T) {
	var idx struct {
		Indexes []struct {
			CollectionGroup string `json:"collectionGroup"`
			Fields          []struct {
				FieldPath string `json:"fieldPath"`
			} `json:"fields"`
		} `json:"indexes"`
		FieldOverrides []struct {
			CollectionGroup string `json:"collectionGroup"`
			FieldPath       string `json:"fieldPath"`
		} `json:"fieldOverrides"`
	}
	require.NoError(t, json.Unmarshal(repoFile(t, "firestore.indexes.json"), &idx))
	collections := map[string]bool{SessionsCollection: true, EventsCollection: true, SnapshotsCollection: true, PresenceCollection: true, CallsCollection: true, ServerCollection: true}
	fields := map[string]bool{"__name__": true}
	for _, f := range []string{FieldID, FieldCallID, FieldExperienceID, FieldOwnerID, FieldStatus, FieldParticipants, FieldLastEventID,
		FieldLastEventSequenceNumber, FieldCreatedAt, FieldUpdatedAt, FieldLastActivityAt, FieldEndedAt, FieldEndReason, FieldExpireAt,
		FieldFinalized, FieldSequencer, FieldType, FieldSenderID, FieldData, FieldClientSequenceNumber, FieldOrigin, FieldSequenceNumber,
		FieldRejectReason, FieldSequencedAt, FieldLastSeenAt, FieldExperienceState, FieldCompactionDue, FieldSchemaVersion} {
		fields[f] = true
	}
	check := func(group, path string) {
		require.True(t, collections[group], "unknown collection group %q", group)
		require.True(t, fields[strings.Split(path, ".")[0]], "unknown field %q in %s", path, group)
	}
	for _, i := range idx.Indexes {
		for _, f := range i.Fields {
			check(i.CollectionGroup, f.FieldPath)
		}
	}
	for _, o := range idx.FieldOverrides {
		check(o.CollectionGroup, o.FieldPath)
	}
	require.NotEmpty(t, idx.Indexes)
}
