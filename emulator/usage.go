package emulator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync/atomic"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Usage meters the Firestore operations of the clients made with its
// Firestore method as Firestore bills them: a read per document a get or a
// query returns (a query that returns none costs one), a read per 1,000
// entries an aggregation counts (one at least), a write per document
// written or deleted. The emulator keeps no such count; the bench and the
// cost tests read it here.
type Usage struct {
	reads, writes atomic.Int64
}

// Reads and Writes return the totals so far.
func (u *Usage) Reads() int64  { return u.reads.Load() }
func (u *Usage) Writes() int64 { return u.writes.Load() }

// Firestore returns a Firestore client on the emulator named by
// FIRESTORE_EMULATOR_HOST whose calls u meters. The client library dials
// the emulator itself, ignoring dial options, so this dials it the same
// way (plaintext, the emulator's admin credentials) with u's interceptors,
// and hands the connection over.
func (u *Usage) Firestore(ctx context.Context, projectID string) (*firestore.Client, error) {
	addr := os.Getenv("FIRESTORE_EMULATOR_HOST")
	if addr == "" {
		return nil, errors.New("usage: FIRESTORE_EMULATOR_HOST is not set")
	}
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
		grpc.WithChainUnaryInterceptor(u.unary),
		grpc.WithChainStreamInterceptor(u.stream))
	if err != nil {
		return nil, fmt.Errorf("dial the Firestore emulator: %w", err)
	}
	fs, err := firestore.NewClient(ctx, projectID, option.WithGRPCConn(conn))
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return fs, nil
}

// emulatorOwner is the Firestore emulator's admin credential, as the
// client library sends it: rules do not apply.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

func (u *Usage) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		return err
	}
	switch r := reply.(type) {
	case *firestorepb.CommitResponse:
		u.writes.Add(int64(len(r.GetWriteResults())))
	case *firestorepb.BatchWriteResponse:
		u.writes.Add(int64(len(r.GetWriteResults())))
	case *firestorepb.Document:
		u.reads.Add(1)
	case *firestorepb.ListDocumentsResponse:
		u.reads.Add(max(1, int64(len(r.GetDocuments()))))
	}
	return nil
}

func (u *Usage) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &meteredStream{ClientStream: s, u: u}, nil
}

// meteredStream counts what a streamed get or query returns; a query
// that returns no document is billed one read when its stream ends.
type meteredStream struct {
	grpc.ClientStream
	u     *Usage
	query bool
	docs  int64
	ended bool
}

func (s *meteredStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		if s.query && s.docs == 0 && !s.ended {
			s.u.reads.Add(1)
		}
		s.ended = true
		return err
	}
	switch r := m.(type) {
	case *firestorepb.BatchGetDocumentsResponse:
		if r.GetFound() != nil || r.GetMissing() != "" {
			s.u.reads.Add(1)
		}
	case *firestorepb.RunQueryResponse:
		s.query = true
		if r.GetDocument() != nil {
			s.docs++
			s.u.reads.Add(1)
		}
	case *firestorepb.RunAggregationQueryResponse:
		if res := r.GetResult(); res != nil {
			n := int64(0)
			for _, v := range res.GetAggregateFields() {
				n = max(n, v.GetIntegerValue())
			}
			s.u.reads.Add(1 + n/1000)
		}
	}
	return nil
}
