// Smoke test: the official Firebase JS SDK, unchanged, against the local
// stack (`make run`, or the Go test stack via env). It does what an app does:
// signs up with Auth, discovers a session with a callable, writes an event
// under firestore.rules and watches the functions sequence it.
//
// Prints one JSON line with every step's result; exits 0 on success, 1 on
// any failure.
import { randomUUID } from 'node:crypto';
import { initializeApp, deleteApp } from 'firebase/app';
import { getAuth, connectAuthEmulator, createUserWithEmailAndPassword } from 'firebase/auth';
import {
  getFirestore, connectFirestoreEmulator, doc, setDoc, onSnapshot, serverTimestamp,
} from 'firebase/firestore';
import { getFunctions, connectFunctionsEmulator, httpsCallable } from 'firebase/functions';

// Defaults are `make run`'s (firebase.json, .firebaserc).
const cfg = {
  projectId: process.env.PROJECT_ID || 'demo-shared-experiences',
  authHost: process.env.AUTH_EMULATOR_HOST || '127.0.0.1:9099',
  firestoreHost: process.env.FIRESTORE_EMULATOR_HOST || '127.0.0.1:8080',
  functionsURL: process.env.FUNCTIONS_EMULATOR_URL || 'http://127.0.0.1:5001',
  region: process.env.REGION || 'us-central1',
};
const SNAPSHOT_TIMEOUT_MS = 20_000;
// Firestore and gRPC keep handles open, and a hung emulator would hang us:
// whatever happens, the process ends within this bound.
const OVERALL_TIMEOUT_MS = 50_000;

const summary = { ok: false, config: cfg, steps: [] };
let finished = false;

function finish(code) {
  if (finished) return;
  finished = true;
  summary.ok = code === 0;
  process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(code));
}

const watchdog = setTimeout(() => {
  summary.steps.push({ step: 'watchdog', ok: false, error: `not done within ${OVERALL_TIMEOUT_MS} ms` });
  finish(1);
}, OVERALL_TIMEOUT_MS);

async function step(name, fn) {
  const start = Date.now();
  try {
    const detail = await fn();
    summary.steps.push({ step: name, ok: true, ms: Date.now() - start, ...(detail ? { detail } : {}) });
    return detail;
  } catch (err) {
    summary.steps.push({
      step: name, ok: false, ms: Date.now() - start,
      error: err?.message ?? String(err), ...(err?.code ? { code: err.code } : {}),
    });
    throw err;
  }
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

// expectRejected runs fn, which must fail with the given SDK error code: a
// success is a security hole, another code a different fault.
async function expectRejected(fn, code) {
  try {
    await fn();
  } catch (err) {
    check(err?.code === code, `want error code ${code}, got ${err?.code}: ${err?.message}`);
    return { code: err.code, message: err.message };
  }
  throw new Error(`want error code ${code}, but the call succeeded`);
}

// The REST encoding of the seed documents.
const str = (s) => ({ stringValue: s });
const ts = (d) => ({ timestampValue: d.toISOString() });
const strArray = (a) => ({ arrayValue: { values: a.map(str) } });

// seed writes what the app's call service and the functions own, and no
// client may write under the rules: through the emulator's REST API with its
// admin bypass ("Bearer owner"), in one commit.
async function seed(docs) {
  const root = `projects/${cfg.projectId}/databases/(default)/documents`;
  const res = await fetch(`http://${cfg.firestoreHost}/v1/${root}:commit`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer owner' },
    body: JSON.stringify({
      writes: Object.entries(docs).map(([path, fields]) => ({ update: { name: `${root}/${path}`, fields } })),
    }),
  });
  const body = await res.text();
  check(res.ok, `seed: HTTP ${res.status}: ${body.slice(0, 300)}`);
}

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

async function main() {
  const app = initializeApp({ projectId: cfg.projectId, apiKey: 'fake-api-key' });
  const auth = getAuth(app);
  connectAuthEmulator(auth, `http://${cfg.authHost}`, { disableWarnings: true });
  const db = getFirestore(app);
  const [fsHost, fsPort] = splitHostPort(cfg.firestoreHost);
  connectFirestoreEmulator(db, fsHost, fsPort);
  const functions = getFunctions(app, cfg.region);
  const fnURL = new URL(cfg.functionsURL);
  connectFunctionsEmulator(functions, fnURL.hostname, Number(fnURL.port));

  const id = (prefix) => prefix + randomUUID().replaceAll('-', '');
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
    await seed({
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

  // Best effort: a clean shutdown is nicer to the emulators, but the
  // verdict is already known.
  await Promise.race([deleteApp(app).catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
}

function splitHostPort(hp) {
  const i = hp.lastIndexOf(':');
  check(i > 0, `want host:port, got ${hp}`);
  return [hp.slice(0, i).replace(/^\[|\]$/g, ''), Number(hp.slice(i + 1))];
}

main().then(
  () => { clearTimeout(watchdog); finish(0); },
  (err) => {
    clearTimeout(watchdog);
    // A failure outside any step (bad config, SDK start-up) is a step too.
    if (!summary.steps.some((s) => !s.ok)) {
      summary.steps.push({ step: 'setup', ok: false, error: err?.message ?? String(err) });
    }
    finish(1);
  },
);
