package lazytx

import (
	"context"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestForgotten: what Transactions keeps is bounded: an ended transaction
// for its retry, one never ended (a caller that panicked) until Firestore
// would have expired it.
func TestForgotten(t *testing.T) {
	tr := New()
	now := time.Now()
	tr.now = func() time.Time { return now }
	ended, err := tr.begin(&pb.BeginTransactionRequest{})
	require.NoError(t, err)
	_, err = tr.end(ended)
	require.NoError(t, err)
	_, err = tr.begin(&pb.BeginTransactionRequest{})
	require.NoError(t, err)
	require.Equal(t, 2, tr.Len())

	now = now.Add(keepEnded + time.Second)
	_, err = tr.begin(&pb.BeginTransactionRequest{})
	require.NoError(t, err)
	require.Equal(t, 2, tr.Len(), "the ended one is forgotten")
	_, err = tr.end(ended)
	require.Equal(t, codes.InvalidArgument, status.Code(err))

	now = now.Add(keepAny + time.Second)
	_, err = tr.begin(&pb.BeginTransactionRequest{})
	require.NoError(t, err)
	require.Equal(t, 1, tr.Len(), "the never-ended ones are forgotten")
}

// TestRetryNamesTheRealAttempt: a retry names the attempt it retries by the
// server's ID, and an attempt that never began by none.
func TestRetryNamesTheRealAttempt(t *testing.T) {
	tr := New()
	ctx := context.Background()
	retry := func(prev []byte) *pb.TransactionOptions {
		id, err := tr.begin(&pb.BeginTransactionRequest{Options: &pb.TransactionOptions{
			Mode: &pb.TransactionOptions_ReadWrite_{ReadWrite: &pb.TransactionOptions_ReadWrite{RetryTransaction: prev}}}})
		require.NoError(t, err)
		_, opts, release, err := tr.claim(ctx, id)
		require.NoError(t, err)
		release(nil)
		return opts
	}
	first, err := tr.begin(&pb.BeginTransactionRequest{})
	require.NoError(t, err)
	_, opts, release, err := tr.claim(ctx, first)
	require.NoError(t, err)
	require.NotNil(t, opts.GetReadWrite())
	release([]byte("server-id"))
	real, _, _, err := tr.claim(ctx, first)
	require.NoError(t, err)
	require.Equal(t, []byte("server-id"), real)
	require.Equal(t, []byte("server-id"), retry(first).GetReadWrite().GetRetryTransaction())

	unbegun, err := tr.begin(&pb.BeginTransactionRequest{})
	require.NoError(t, err)
	require.Nil(t, retry(unbegun).GetReadWrite().GetRetryTransaction())
}

// TestWaitForTheBeginningRead: a read that finds another beginning the
// transaction waits for its ID, and begins it itself when that read ends
// without one.
func TestWaitForTheBeginningRead(t *testing.T) {
	tr := New()
	ctx := context.Background()
	id, err := tr.begin(&pb.BeginTransactionRequest{})
	require.NoError(t, err)
	_, _, release, err := tr.claim(ctx, id)
	require.NoError(t, err)

	type claimed struct {
		real  []byte
		begin bool
		err   error
	}
	got := make(chan claimed)
	go func() {
		real, _, rel, err := tr.claim(ctx, id)
		if rel != nil {
			rel([]byte("second"))
		}
		got <- claimed{real, rel != nil, err}
	}()
	release(nil) // the first read failed before the server answered
	c := <-got
	require.NoError(t, c.err)
	require.True(t, c.begin, "the waiting read begins the transaction")
	real, _, rel, err := tr.claim(ctx, id)
	require.NoError(t, err)
	require.Nil(t, rel)
	require.Equal(t, []byte("second"), real)

	cancelled, cancel := context.WithCancel(ctx)
	other, err := tr.begin(&pb.BeginTransactionRequest{})
	require.NoError(t, err)
	_, _, _, err = tr.claim(ctx, other)
	require.NoError(t, err)
	cancel()
	_, _, _, err = tr.claim(cancelled, other)
	require.Equal(t, codes.Canceled, status.Code(err))
}
