// Package lazytx starts each Firestore transaction with its first read
// instead of a round trip of its own.
//
// The Go client (cloud.google.com/go/firestore) begins every transaction
// with a BeginTransaction call and only then runs the transaction's reads,
// so a transaction of one batch get, one query and a commit costs four
// sequential round trips. Firestore's reads can begin the transaction
// themselves (the new_transaction option of BatchGetDocuments, RunQuery and
// RunAggregationQuery returns the new transaction's ID in the first
// response), which the Node.js client does since 2024 (nodejs-firestore
// #2017). The client library exposes no such option, so this package does it
// underneath, in the gRPC connection: BeginTransaction is answered at once
// with a placeholder ID; the transaction's first read is sent with
// new_transaction instead of the placeholder; every later request naming the
// placeholder (reads, Commit, Rollback, a retry's RetryTransaction) names the
// real ID instead. The transaction is the same one, with the same locks and
// the same retries; only the round trip is gone.
//
// Edge cases, each kept as the client library would have them:
//   - A transaction with no read commits its writes without a transaction,
//     which is atomic all the same; one whose reads all failed has nothing
//     to roll back.
//   - Reads of one transaction at the same time: the first begins it, the
//     others wait for its ID.
//   - A first read that fails before the server answers leaves the
//     transaction unbegun, and the next read begins it.
package lazytx

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// NewClient returns a Firestore client whose transactions begin with their
// first read. With FIRESTORE_EMULATOR_HOST set it dials the emulator as the
// client library does (plaintext, the emulator's admin credential), since
// the library ignores dial options there.
func NewClient(ctx context.Context, projectID string, opts ...option.ClientOption) (*firestore.Client, error) {
	t := New()
	if addr := os.Getenv("FIRESTORE_EMULATOR_HOST"); addr != "" {
		conn, err := grpc.NewClient("passthrough:///"+addr, append(EmulatorDialOptions(), t.DialOptions()...)...)
		if err != nil {
			return nil, fmt.Errorf("dial the Firestore emulator: %w", err)
		}
		fs, err := firestore.NewClient(ctx, projectID, append(opts, option.WithGRPCConn(conn))...)
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		return fs, nil
	}
	for _, o := range t.DialOptions() {
		opts = append(opts, option.WithGRPCDialOption(o))
	}
	return firestore.NewClient(ctx, projectID, opts...)
}

// EmulatorDialOptions dial the Firestore emulator as the client library
// does: plaintext, as its owner (rules do not apply), with no message size
// limit.
func EmulatorDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	}
}

type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

const (
	method            = "/google.firestore.v1.Firestore/"
	methodBegin       = method + "BeginTransaction"
	methodCommit      = method + "Commit"
	methodRollback    = method + "Rollback"
	methodBatchGet    = method + "BatchGetDocuments"
	methodRunQuery    = method + "RunQuery"
	methodAggregation = method + "RunAggregationQuery"

	// placeholderPrefix marks the IDs this package hands out. Real
	// transaction IDs are opaque bytes from the server; with 16 random
	// bytes after the prefix a collision is not a practical concern.
	placeholderPrefix = "lazytx:"
	// keepEnded is how long an ended transaction's real ID stays known, for
	// the retry that names it (the client library retries after a backoff
	// of at most seconds).
	keepEnded = time.Minute
	// keepAny bounds what a transaction that never ends (its caller
	// panicked) holds here: Firestore expires a transaction after 270 s.
	keepAny = 10 * time.Minute
)

// Transactions tracks the transactions begun through its interceptors.
// The zero value is not usable; use New.
type Transactions struct {
	mu  sync.Mutex
	txs map[string]*tx
	now func() time.Time
	// off passes everything through, for side-by-side measurements.
	off bool
}

// New returns an empty Transactions.
func New() *Transactions {
	return &Transactions{txs: map[string]*tx{}, now: time.Now}
}

// DialOptions install the interceptors on a connection.
func (t *Transactions) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(t.unary), grpc.WithChainStreamInterceptor(t.stream)}
}

// tx is one placeholder's transaction. Its fields are guarded by
// Transactions.mu.
type tx struct {
	opts *pb.TransactionOptions
	// real is the server's ID once a read began the transaction.
	real []byte
	// beginning is closed when the read that is beginning the transaction
	// ends, begun or not; nil when no read is.
	beginning chan struct{}
	// ended is when Commit or Rollback was called (zero: not yet).
	ended time.Time
	// created is when BeginTransaction was called.
	created time.Time
}

// Len returns how many transactions are tracked, ended ones kept for
// their retries included.
func (t *Transactions) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.txs)
}

func (t *Transactions) begin(req *pb.BeginTransactionRequest) ([]byte, error) {
	id := make([]byte, len(placeholderPrefix)+16)
	copy(id, placeholderPrefix)
	if _, err := rand.Read(id[len(placeholderPrefix):]); err != nil {
		return nil, err
	}
	opts := req.GetOptions()
	if opts == nil {
		opts = &pb.TransactionOptions{Mode: &pb.TransactionOptions_ReadWrite_{ReadWrite: &pb.TransactionOptions_ReadWrite{}}}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, x := range t.txs {
		if (!x.ended.IsZero() && now.Sub(x.ended) > keepEnded) || now.Sub(x.created) > keepAny {
			delete(t.txs, k)
		}
	}
	if rw := opts.GetReadWrite(); rw != nil && isPlaceholder(rw.GetRetryTransaction()) {
		// The retry names the attempt it retries, which only the server's ID
		// does; an attempt that never began has nothing to name.
		retry := &pb.TransactionOptions_ReadWrite{}
		if prev := t.txs[string(rw.GetRetryTransaction())]; prev != nil {
			retry.RetryTransaction = prev.real
		}
		opts = &pb.TransactionOptions{Mode: &pb.TransactionOptions_ReadWrite_{ReadWrite: retry}}
	}
	t.txs[string(id)] = &tx{opts: opts, created: now}
	return id, nil
}

func isPlaceholder(id []byte) bool {
	return len(id) > len(placeholderPrefix) && string(id[:len(placeholderPrefix)]) == placeholderPrefix
}

// errUnknown is a placeholder this process does not know: it ended long
// ago, or was never handed out here. Firestore answers a transaction ID it
// does not know (or that expired) the same way.
var errUnknown = status.Error(codes.InvalidArgument, "lazytx: unknown or expired transaction")

// end returns id's real ID for a request that must name one (Commit,
// Rollback): nil when the transaction never began. It marks the
// transaction ended.
func (t *Transactions) end(id []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.txs[string(id)]
	if x == nil {
		return nil, errUnknown
	}
	x.ended = t.now()
	return x.real, nil
}

// claim resolves id for a read: the real ID when the transaction began;
// otherwise the options to begin it with, and release, which the read calls
// with the ID the server returned (nil: none) once it knows. A read that
// finds another beginning the transaction waits for it.
func (t *Transactions) claim(ctx context.Context, id []byte) (real []byte, opts *pb.TransactionOptions, release func([]byte), err error) {
	for {
		t.mu.Lock()
		x := t.txs[string(id)]
		switch {
		case x == nil:
			t.mu.Unlock()
			return nil, nil, nil, errUnknown
		case x.real != nil:
			t.mu.Unlock()
			return x.real, nil, nil, nil
		case x.beginning == nil:
			done := make(chan struct{})
			x.beginning = done
			t.mu.Unlock()
			var once sync.Once
			return nil, x.opts, func(real []byte) {
				once.Do(func() {
					t.mu.Lock()
					x.real, x.beginning = real, nil
					t.mu.Unlock()
					close(done)
				})
			}, nil
		}
		wait := x.beginning
		t.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, nil, status.FromContextError(ctx.Err()).Err()
		}
	}
}

func (t *Transactions) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if t.off {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	switch method {
	case methodBegin:
		r, ok := req.(*pb.BeginTransactionRequest)
		if !ok {
			break
		}
		id, err := t.begin(r)
		if err != nil {
			return err
		}
		reply.(*pb.BeginTransactionResponse).Transaction = id
		return nil
	case methodCommit:
		r, ok := req.(*pb.CommitRequest)
		if !ok || !isPlaceholder(r.GetTransaction()) {
			break
		}
		real, err := t.end(r.Transaction)
		if err != nil {
			return err
		}
		// Never begun: no read, so the writes commit on their own, as
		// atomically.
		r.Transaction = real
	case methodRollback:
		r, ok := req.(*pb.RollbackRequest)
		if !ok || !isPlaceholder(r.GetTransaction()) {
			break
		}
		real, err := t.end(r.Transaction)
		if err != nil {
			return err
		}
		if real == nil {
			return nil
		}
		r.Transaction = real
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (t *Transactions) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	switch method {
	case methodBatchGet, methodRunQuery, methodAggregation:
		if t.off {
			return streamer(ctx, desc, cc, method, opts...)
		}
	default:
		return streamer(ctx, desc, cc, method, opts...)
	}
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &readStream{ClientStream: s, t: t, ctx: ctx}, nil
}

// readStream is a read that may name a placeholder: SendMsg resolves it,
// and when the read begins the transaction, RecvMsg takes the server's ID
// from the first response.
type readStream struct {
	grpc.ClientStream
	t       *Transactions
	ctx     context.Context
	release func([]byte)
	stop    func() bool
}

func (s *readStream) SendMsg(m any) error {
	id := transactionOf(m)
	if !isPlaceholder(id) {
		return s.ClientStream.SendMsg(m)
	}
	real, opts, release, err := s.t.claim(s.ctx, id)
	if err != nil {
		return err
	}
	// The caller's request keeps its placeholder: a client that sends it
	// again resolves it again.
	m = proto.Clone(m.(proto.Message))
	if release != nil {
		s.release = release
		// A caller that abandons the stream unread must not leave the
		// transaction's other reads waiting.
		s.stop = context.AfterFunc(s.ctx, func() { release(nil) })
		setNewTransaction(m, opts)
	} else {
		setTransaction(m, real)
	}
	return s.ClientStream.SendMsg(m)
}

func (s *readStream) RecvMsg(m any) error {
	for {
		err := s.ClientStream.RecvMsg(m)
		if s.release == nil {
			return err
		}
		if err != nil {
			s.done(nil)
			return err
		}
		id, only := began(m)
		if id == nil {
			return nil
		}
		s.done(id)
		if !only {
			return nil
		}
		// A response that only carries the new transaction's ID is not one
		// the client library expects from a batch get: take the next.
	}
}

func (s *readStream) done(id []byte) {
	s.stop()
	s.release(id)
	s.release = nil
}

func transactionOf(m any) []byte {
	switch r := m.(type) {
	case *pb.BatchGetDocumentsRequest:
		return r.GetTransaction()
	case *pb.RunQueryRequest:
		return r.GetTransaction()
	case *pb.RunAggregationQueryRequest:
		return r.GetTransaction()
	}
	return nil
}

func setTransaction(m any, id []byte) {
	switch r := m.(type) {
	case *pb.BatchGetDocumentsRequest:
		r.ConsistencySelector = &pb.BatchGetDocumentsRequest_Transaction{Transaction: id}
	case *pb.RunQueryRequest:
		r.ConsistencySelector = &pb.RunQueryRequest_Transaction{Transaction: id}
	case *pb.RunAggregationQueryRequest:
		r.ConsistencySelector = &pb.RunAggregationQueryRequest_Transaction{Transaction: id}
	}
}

func setNewTransaction(m any, opts *pb.TransactionOptions) {
	switch r := m.(type) {
	case *pb.BatchGetDocumentsRequest:
		r.ConsistencySelector = &pb.BatchGetDocumentsRequest_NewTransaction{NewTransaction: opts}
	case *pb.RunQueryRequest:
		r.ConsistencySelector = &pb.RunQueryRequest_NewTransaction{NewTransaction: opts}
	case *pb.RunAggregationQueryRequest:
		r.ConsistencySelector = &pb.RunAggregationQueryRequest_NewTransaction{NewTransaction: opts}
	}
}

// began returns the ID a response says the read began, and whether the
// response carries nothing else the caller would read.
func began(m any) (id []byte, only bool) {
	switch r := m.(type) {
	case *pb.BatchGetDocumentsResponse:
		return r.GetTransaction(), r.GetResult() == nil
	case *pb.RunQueryResponse:
		// The client library skips a response with no document.
		return r.GetTransaction(), false
	case *pb.RunAggregationQueryResponse:
		return r.GetTransaction(), false
	}
	return nil, false
}
