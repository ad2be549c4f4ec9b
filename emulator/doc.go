// Package emulator is the local stack: the Firebase emulator suite
// (Firestore, Auth, Pub/Sub) started on free loopback ports, and a runner
// that serves every declared function (functions.Declarations) from one
// supervised Go process and delivers their triggers as Google Cloud would:
// Firestore CloudEvents as Eventarc sends them, Pub/Sub messages as
// messagePublished events, schedules on demand, callables over HTTPS.
//
// Delivery can be made as unkind as production's (Faults: concurrency,
// duplicates, reordering, latency, drops, retries with back-off for the
// functions declared with retry), and the functions host can be killed and
// is restarted, so tests meet the conditions a deployment meets. `make run`
// (cmd/run) and the tests (package emulatortest) start it the same way.
package emulator
