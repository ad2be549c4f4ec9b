// Streaming test: the official Firebase JS SDK's httpsCallable(...).stream(),
// unchanged, against the Go callables (`make run`, or the Go test stack via
// env). stream() sends Accept: text/event-stream and reads only "data: "
// lines: both its `data` promise and its stream must settle, with the result
// on success and with the error's code on failure. Before the Go server
// answered with server-sent events, neither ever did.
//
// Prints one JSON line with every step's result; exits 0 on success, 1 on
// any failure.
import { createUserWithEmailAndPassword } from 'firebase/auth';
import { httpsCallable } from 'firebase/functions';
import { config, connect, disconnect, newID, check, seed, strArray, run } from './harness.mjs';

const cfg = config();
// A stream that never settles is the failure this test exists for: each
// step gets a bound, and the whole run another.
const STEP_TIMEOUT_MS = 15_000;
const OVERALL_TIMEOUT_MS = 50_000;

// drain reads the whole stream: the chunks, or the error it ends with.
async function drain(stream) {
  const chunks = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (err) {
    return { chunks, error: err };
  }
  return { chunks };
}

// expectStreamError: both the data promise and the stream fail with code.
async function expectStreamError(res, code) {
  const [data, read] = await Promise.allSettled([res.data, drain(res.stream)]);
  check(data.status === 'rejected', `data resolved, want ${code}: ${JSON.stringify(data.value)}`);
  check(data.reason?.code === code, `data rejected with ${data.reason?.code} (${data.reason?.message}), want ${code}`);
  check(read.value.error?.code === code, `stream ended with ${read.value.error?.code ?? 'no error'}, want ${code}`);
  return { code, message: data.reason.message };
}

async function main(step) {
  const { app, auth, functions } = connect(cfg);
  const id = newID;
  const callId = id('call');
  const otherCallId = id('call');

  const uid = await step('signUp', async () => {
    const cred = await createUserWithEmailAndPassword(auth, `${id('stream')}@example.com`, 'password-123');
    return cred.user.uid;
  });

  // The call documents the app's call service owns.
  await step('seed', () => seed(cfg, {
    [`calls/${callId}`]: { members: strArray([uid]) },
    [`calls/${otherCallId}`]: { members: strArray([id('stranger')]) },
  }));

  const discover = httpsCallable(functions, 'discoverSessions');

  await step('stream success', async () => {
    const res = await discover.stream({ callId });
    const [data, read] = await Promise.all([res.data, drain(res.stream)]);
    check(Array.isArray(data?.sessions), `data has no sessions array: ${JSON.stringify(data)}`);
    check(!read.error, `stream failed: ${read.error?.code} ${read.error?.message}`);
    check(read.chunks.length === 0, `a function that streams nothing yielded ${JSON.stringify(read.chunks)}`);
    return { sessions: data.sessions.length, chunks: read.chunks.length };
  });

  await step('stream error (domain)', async () =>
    expectStreamError(await discover.stream({ callId: otherCallId }), 'functions/permission-denied'));

  await step('stream error (decoding)', async () =>
    expectStreamError(await discover.stream({ callId, extra: 1 }), 'functions/invalid-argument'));

  await disconnect(app);
}

run(main, { timeoutMs: OVERALL_TIMEOUT_MS, stepTimeoutMs: STEP_TIMEOUT_MS });
