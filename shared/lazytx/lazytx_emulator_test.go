package lazytx_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	. "github.com/pajama-app/sharedexperiences/shared/lazytx"
)

var stack *emulator.Stack

func TestMain(m *testing.M) { os.Exit(emulatortest.MainStack(m, &stack)) }

// wire records the requests that reach the emulator, behind the
// placeholders.
type wire struct {
	mu   sync.Mutex
	reqs []any
}

func (w *wire) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	w.add(req)
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (w *wire) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &wireStream{ClientStream: s, w: w}, nil
}

type wireStream struct {
	grpc.ClientStream
	w *wire
}

func (s *wireStream) SendMsg(m any) error {
	s.w.add(m)
	return s.ClientStream.SendMsg(m)
}

func (w *wire) add(m any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reqs = append(w.reqs, m)
}

func (w *wire) take() []any {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.reqs
	w.reqs = nil
	return r
}

// newClient is a client on the emulator whose transactions begin lazily
// through t, with w behind t.
func newClient(tb testing.TB, t *Transactions, w *wire) *firestore.Client {
	tb.Helper()
	if stack == nil {
		tb.Skip("emulators not running: run `make test`")
	}
	opts := append(EmulatorDialOptions(), t.DialOptions()...)
	opts = append(opts, grpc.WithChainUnaryInterceptor(w.unary), grpc.WithChainStreamInterceptor(w.stream))
	conn, err := grpc.NewClient("passthrough:///"+os.Getenv("FIRESTORE_EMULATOR_HOST"), opts...)
	require.NoError(tb, err)
	fs, err := firestore.NewClient(context.Background(), stack.ProjectID, option.WithGRPCConn(conn))
	require.NoError(tb, err)
	tb.Cleanup(func() { fs.Close() })
	return fs
}

// kinds names what reached the server, in order, with how each request
// names its transaction: "new" (begins one), "tx" (a real ID), "none".
func kinds(tb testing.TB, reqs []any) []string {
	tb.Helper()
	var out []string
	name := func(what string, id []byte, begins bool) {
		switch {
		case IsPlaceholder(id):
			out = append(out, what+":placeholder")
		case begins:
			out = append(out, what+":new")
		case id != nil:
			out = append(out, what+":tx")
		default:
			out = append(out, what+":none")
		}
	}
	for _, m := range reqs {
		switch r := m.(type) {
		case *pb.BeginTransactionRequest:
			out = append(out, "begin")
		case *pb.BatchGetDocumentsRequest:
			name("get", r.GetTransaction(), r.GetNewTransaction() != nil)
		case *pb.RunQueryRequest:
			name("query", r.GetTransaction(), r.GetNewTransaction() != nil)
		case *pb.RunAggregationQueryRequest:
			name("count", r.GetTransaction(), r.GetNewTransaction() != nil)
		case *pb.CommitRequest:
			name("commit", r.GetTransaction(), false)
		case *pb.RollbackRequest:
			name("rollback", r.GetTransaction(), false)
		default:
			tb.Fatalf("unexpected request %T", m)
		}
	}
	return out
}

func collection(tb testing.TB, fs *firestore.Client) *firestore.CollectionRef {
	return fs.Collection(emulatortest.ID("lazytx"))
}

// TestTransactionsBeginWithTheirFirstRead: no BeginTransaction reaches the
// server, whichever read comes first, and everything after the first read
// names the transaction it began.
func TestTransactionsBeginWithTheirFirstRead(t *testing.T) {
	ctx := context.Background()
	tr, w := New(), &wire{}
	fs := newClient(t, tr, w)
	col := collection(t, fs)
	_, err := col.Doc("a").Set(ctx, map[string]any{"n": 1})
	require.NoError(t, err)
	_, err = col.Doc("b").Set(ctx, map[string]any{"n": 2})
	require.NoError(t, err)
	w.take()

	cases := []struct {
		name string
		body func(ctx context.Context, tx *firestore.Transaction) error
		want []string
	}{
		{"get first", func(ctx context.Context, tx *firestore.Transaction) error {
			snaps, err := tx.GetAll([]*firestore.DocumentRef{col.Doc("a"), col.Doc("missing")})
			if err != nil {
				return err
			}
			require.True(t, snaps[0].Exists())
			require.False(t, snaps[1].Exists())
			agg, err := col.NewAggregationQuery().WithCount("n").Transaction(tx).Get(ctx)
			if err != nil {
				return err
			}
			require.EqualValues(t, 2, agg["n"].(*pb.Value).GetIntegerValue())
			docs, err := tx.Documents(col.Where("n", ">", 1)).GetAll()
			if err != nil {
				return err
			}
			require.Len(t, docs, 1)
			return tx.Update(col.Doc("a"), []firestore.Update{{Path: "n", Value: firestore.Increment(1)}})
		}, []string{"get:new", "count:tx", "query:tx", "commit:tx"}},
		{"query first", func(ctx context.Context, tx *firestore.Transaction) error {
			docs, err := tx.Documents(col.Where("n", ">=", 2)).GetAll()
			if err != nil {
				return err
			}
			require.Len(t, docs, 2)
			return tx.Update(col.Doc("b"), []firestore.Update{{Path: "n", Value: firestore.Increment(1)}})
		}, []string{"query:new", "commit:tx"}},
		{"count first", func(ctx context.Context, tx *firestore.Transaction) error {
			if _, err := col.NewAggregationQuery().WithCount("n").Transaction(tx).Get(ctx); err != nil {
				return err
			}
			_, err := tx.Get(col.Doc("b"))
			return err
		}, []string{"count:new", "get:tx", "commit:tx"}},
		{"writes only", func(ctx context.Context, tx *firestore.Transaction) error {
			return tx.Set(col.Doc("c"), map[string]any{"n": 0})
		}, []string{"commit:none"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, fs.RunTransaction(ctx, c.body))
			require.Equal(t, c.want, kinds(t, w.take()))
		})
	}
	snap, err := col.Doc("a").Get(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, snap.Data()["n"])
	snap, err = col.Doc("b").Get(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, snap.Data()["n"])
	snap, err = col.Doc("c").Get(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 0, snap.Data()["n"])
}

// TestRollback: a transaction whose body fails rolls back the transaction
// its read began, and one that never read has nothing to roll back.
func TestRollback(t *testing.T) {
	ctx := context.Background()
	tr, w := New(), &wire{}
	fs := newClient(t, tr, w)
	col := collection(t, fs)
	boom := errors.New("boom")

	err := fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.GetAll([]*firestore.DocumentRef{col.Doc("a")}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, []string{"get:new", "rollback:tx"}, kinds(t, w.take()))

	err = fs.RunTransaction(ctx, func(context.Context, *firestore.Transaction) error { return boom })
	require.ErrorIs(t, err, boom)
	require.Empty(t, kinds(t, w.take()))

	// The rolled-back transaction's lock is gone: a write to what it read
	// goes through.
	_, err = col.Doc("a").Set(ctx, map[string]any{"n": 1})
	require.NoError(t, err)
}

// TestReadOnly: a read-only transaction begins as one.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	tr, w := New(), &wire{}
	fs := newClient(t, tr, w)
	col := collection(t, fs)
	_, err := col.Doc("a").Set(ctx, map[string]any{"n": 1})
	require.NoError(t, err)
	w.take()
	require.NoError(t, fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		_, err := tx.Get(col.Doc("a"))
		return err
	}, firestore.ReadOnly))
	reqs := w.take()
	require.Equal(t, []string{"get:new", "commit:tx"}, kinds(t, reqs))
	require.NotNil(t, reqs[0].(*pb.BatchGetDocumentsRequest).GetNewTransaction().GetReadOnly())
}

// TestContention: transactions that read and write one document from many
// goroutines lose no update, through the emulator's aborts and the client's
// retries (each retry names the attempt it retries by its real ID).
func TestContention(t *testing.T) {
	ctx := context.Background()
	tr, w := New(), &wire{}
	fs := newClient(t, tr, w)
	ref := collection(t, fs).Doc("counter")
	_, err := ref.Set(ctx, map[string]any{"n": 0})
	require.NoError(t, err)
	const workers, each = 6, 5
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
					snap, err := tx.Get(ref)
					if err != nil {
						return err
					}
					return tx.Set(ref, map[string]any{"n": snap.Data()["n"].(int64) + 1})
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	snap, err := ref.Get(ctx)
	require.NoError(t, err)
	require.EqualValues(t, workers*each, snap.Data()["n"])
	for _, k := range kinds(t, w.take()) {
		require.NotContains(t, k, "placeholder")
		require.NotEqual(t, "begin", k)
	}
}

// TestEndedAreForgotten: an ended transaction is kept for its retry, then
// forgotten.
func TestEndedAreForgotten(t *testing.T) {
	ctx := context.Background()
	tr, w := New(), &wire{}
	now := time.Now()
	tr.SetClock(func() time.Time { return now })
	fs := newClient(t, tr, w)
	col := collection(t, fs)
	read := func(ctx context.Context, tx *firestore.Transaction) error {
		_, err := tx.GetAll([]*firestore.DocumentRef{col.Doc("a")})
		return err
	}
	require.NoError(t, fs.RunTransaction(ctx, read))
	require.Equal(t, 1, tr.Len())
	now = now.Add(KeepEnded + time.Second)
	require.NoError(t, fs.RunTransaction(ctx, read))
	require.Equal(t, 1, tr.Len(), "the first is forgotten when the second begins")
}

// BenchmarkTransaction: the sequencer's shape of transaction (a batch
// get, a count, a commit) with and without its own BeginTransaction round
// trip, on one emulator, alternated so that load hits both alike.
func BenchmarkTransaction(b *testing.B) {
	ctx := context.Background()
	lazy := newClient(b, New(), &wire{})
	plain := newClient(b, Passthrough(), &wire{})
	col := collection(b, lazy)
	_, err := col.Doc("session").Set(ctx, map[string]any{"n": 0})
	require.NoError(b, err)
	run := func(fs *firestore.Client) {
		c := fs.Collection(col.ID)
		require.NoError(b, fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			if _, err := tx.GetAll([]*firestore.DocumentRef{c.Doc("session")}); err != nil {
				return err
			}
			if _, err := c.NewAggregationQuery().WithCount("n").Transaction(tx).Get(ctx); err != nil {
				return err
			}
			return tx.Update(c.Doc("session"), []firestore.Update{{Path: "n", Value: firestore.Increment(1)}})
		}))
	}
	for _, c := range []struct {
		name string
		fs   *firestore.Client
	}{{"begin", plain}, {"lazy", lazy}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				run(c.fs)
			}
		})
	}
}
