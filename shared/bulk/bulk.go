// Package bulk applies one kind of write to many documents with the
// Firestore client's BulkWriter, in bounded chunks: each chunk is flushed
// and checked before the next starts, so a 10,000-document cleanup never has
// thousands of writes in flight (the Firestore emulator cancels calls under
// that load, and production throttles it anyway).
package bulk

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
)

// ChunkSize is how many writes are in flight at most.
const ChunkSize = 300

// Op enqueues one write on bw.
type Op func(bw *firestore.BulkWriter, ref *firestore.DocumentRef) (*firestore.BulkWriterJob, error)

// Delete deletes each document.
func Delete(bw *firestore.BulkWriter, ref *firestore.DocumentRef) (*firestore.BulkWriterJob, error) {
	return bw.Delete(ref)
}

// Update returns an Op applying updates to each document.
func Update(updates []firestore.Update) Op {
	return func(bw *firestore.BulkWriter, ref *firestore.DocumentRef) (*firestore.BulkWriterJob, error) {
		return bw.Update(ref, updates)
	}
}

// Apply runs op on every ref and returns the first failure, naming the
// document.
func Apply(ctx context.Context, fs *firestore.Client, refs []*firestore.DocumentRef, op Op) error {
	for start := 0; start < len(refs); start += ChunkSize {
		chunk := refs[start:min(start+ChunkSize, len(refs))]
		bw := fs.BulkWriter(ctx)
		jobs := make([]*firestore.BulkWriterJob, 0, len(chunk))
		for _, ref := range chunk {
			j, err := op(bw, ref)
			if err != nil {
				bw.End()
				return fmt.Errorf("%s: %w", ref.Path, err)
			}
			jobs = append(jobs, j)
		}
		bw.End()
		for i, j := range jobs {
			if _, err := j.Results(); err != nil {
				return fmt.Errorf("%s: %w", chunk[i].Path, err)
			}
		}
	}
	return nil
}
