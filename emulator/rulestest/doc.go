// Package rulestest holds the firestore.rules test matrix: every role a
// client can have (unauthenticated, stranger, call member, participant,
// owner, former participant, participant of another session, and the admin
// bypass) against every path of the Firestore layout and every operation
// (get, list, create, update, delete), plus the field-level cases of event
// and presence writes, each asserted allowed or denied as SPEC's "Security"
// section says.
//
// The tests talk to the Firestore emulator's REST API directly, with each
// user's Auth emulator ID token, so the rules are evaluated exactly as for
// an app. They need the emulators (see emulatortest.MainStack) and no
// functions.
package rulestest
