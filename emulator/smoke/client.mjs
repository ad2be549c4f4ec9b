// Smoke test: the official Firebase JS SDK, unchanged, against the local
// stack (`make run`, or the Go test stack via env). It does what an app does:
// signs up with Auth, discovers a session with a callable, writes an event
// under firestore.rules and watches the functions sequence it.
//
// Prints one JSON line with every step's result; exits 0 on success, 1 on
// any failure.
import { createUserWithEmailAndPassword } from 'firebase/auth';
import { doc, setDoc, onSnapshot, serverTimestamp } from 'firebase/firestore';
import { httpsCallable } from 'firebase/functions';
import {
  config, connect, disconnect, newID, check, expectRejected, seed, str, ts, strArray, run,
  restartGarbledStreams,
} from './harness.mjs';

const cfg = config();
const SNAPSHOT_TIMEOUT_MS = 20_000;
const OVERALL_TIMEOUT_MS = 50_000;

// waitAccepted listens to the event as the participant until the functions
// decide it; a rejection fails at once with the function's reason.
function waitAccepted(ref, wantSeq) {
  return new Promise((resolve, reject) => {
    let last = 'no snapshot yet';
    let unsubscribe = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`event ${ref.path} not accepted within ${SNAPSHOT_TIMEOUT_MS} ms; last snapshot: ${last}`));
    }, SNAPSHOT_TIMEOUT_MS);
    const done = (fn, v) => { clearTimeout(timer); unsubscribe(); fn(v); };
    unsubscribe = onSnapshot(ref, (snap) => {
      const d = snap.data();
      last = JSON.stringify({ exists: snap.exists(), fromCache: snap.metadata.fromCache, ...d });
      if (!d?.status) return;
      if (d.status === 'accepted' && d.sequenceNumber === wantSeq) {
        done(resolve, { status: d.status, sequenceNumber: d.sequenceNumber });
      } else {
        done(reject, new Error(`event decided otherwise: ${last}`));
      }
    }, (err) => done(reject, err));
  });
}

async function main(step, summary) {
  summary.config = cfg;
  const { app, auth, db, functions } = connect(cfg);
  restartGarbledStreams(db, summary);
  const id = newID;
  const callId = id('call');
  const otherCallId = id('call');
  const sessionId = id('s');
  const stranger = id('stranger');
  summary.callId = callId;
  summary.sessionId = sessionId;

  const uid = await step('signUp', async () => {
    const cred = await createUserWithEmailAndPassword(auth, `${id('smoke')}@example.com`, 'password-123');
    summary.uid = cred.user.uid;
    return cred.user.uid;
  });

  await step('seed', async () => {
    const now = new Date();
    await seed(cfg, {
      [`calls/${callId}`]: { members: strArray([uid]) },
      [`calls/${otherCallId}`]: { members: strArray([stranger]) },
      [`experience_sessions/${sessionId}`]: {
        id: str(sessionId), callId: str(callId), experienceId: str('co_reading'), ownerId: str(uid),
        status: str('active'), participants: strArray([uid]),
        lastEventId: str(''), lastEventSequenceNumber: { integerValue: '0' },
        createdAt: ts(now), updatedAt: ts(now), lastActivityAt: ts(now),
        endedAt: { nullValue: null }, endReason: str(''),
      },
    });
  });

  const discover = httpsCallable(functions, 'discoverSessions');
  await step('discoverSessions', async () => {
    const res = await discover({ callId });
    const found = res.data?.sessions ?? [];
    check(found.some((s) => s.id === sessionId && s.status === 'active'),
      `session ${sessionId} not discovered: ${JSON.stringify(res.data)}`);
    return { sessions: found.length };
  });

  await step('discoverSessions otherCall denied', () =>
    expectRejected(() => discover({ callId: otherCallId }), 'functions/permission-denied'));

  const eventId = id('e');
  const eventRef = doc(db, 'experience_sessions', sessionId, 'events', eventId);
  await step('createEvent', () => setDoc(eventRef, {
    id: eventId, type: 'page_changed', senderId: uid, data: { pageIndex: '1' },
    clientSequenceNumber: 1, createdAt: serverTimestamp(),
  }));

  await step('forgedEvent denied', () => {
    const forgedId = id('e');
    return expectRejected(() => setDoc(doc(db, 'experience_sessions', sessionId, 'events', forgedId), {
      id: forgedId, type: 'page_changed', senderId: stranger, data: { pageIndex: '1' },
      clientSequenceNumber: 2, createdAt: serverTimestamp(),
    }), 'permission-denied');
  });

  await step('eventAccepted', () => waitAccepted(eventRef, 1));

  await disconnect(app);
}

run(main, { timeoutMs: OVERALL_TIMEOUT_MS });
