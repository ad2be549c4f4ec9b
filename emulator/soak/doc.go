// Package soak is a stochastic whole-system test: from one seed it plays a
// random history against the local stack (real emulators, real functions)
// with delivery faults and functions-host crashes, then checks named
// invariants against what Firestore and Pub/Sub recorded, and against a
// plain-Go model of the contract that replays the committed history.
//
// The seed fixes the script (who does what, in which round); it does not
// fix the interleaving the system takes. So what is checked is the history
// the system observably committed (commit order from createdAt), which is
// saved to a file on failure and can be checked again offline:
//
//	go test ./emulator/soak -run TestSoak                       # a few seeds (make test)
//	make soak SEEDS=200 DURATION=1h                             # many
//	SEED=12345 go test ./emulator/soak -run TestSoak -v         # one, again
//	HISTORY=/tmp/soak-12345.json go test ./emulator/soak -run TestRecheck
//
// The model (model.go) is written from SPEC.md and the README, not from
// shared/events: it shares only the experiences' validation and reducers,
// which define what an experience is.
package soak
