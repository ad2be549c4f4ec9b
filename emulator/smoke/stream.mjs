// Streaming test: the official Firebase JS SDK's httpsCallable(...).stream(),
// unchanged, against the Go callables (`make run`, or the Go test stack via
// env). stream() sends Accept: text/event-stream and reads only "data: "
// lines: both its `data` promise and its stream must settle, with the result
// on success and with the error's code on failure. Before the Go server
// answered with server-sent events, neither ever did.
//
// Prints one JSON line with every step's result; exits 0 on success, 1 on
// any failure.
import { randomUUID } from 'node:crypto';
import { initializeApp, deleteApp } from 'firebase/app';
import { getAuth, connectAuthEmulator, createUserWithEmailAndPassword } from 'firebase/auth';
import { getFunctions, connectFunctionsEmulator, httpsCallable } from 'firebase/functions';

const cfg = {
  projectId: process.env.PROJECT_ID || 'demo-shared-experiences',
  authHost: process.env.AUTH_EMULATOR_HOST || '127.0.0.1:9099',
  firestoreHost: process.env.FIRESTORE_EMULATOR_HOST || '127.0.0.1:8080',
  functionsURL: process.env.FUNCTIONS_EMULATOR_URL || 'http://127.0.0.1:5001',
  region: process.env.REGION || 'us-central1',
};
// A stream that never settles is the failure this test exists for: each
// step gets a bound, and the whole run another.
const STEP_TIMEOUT_MS = 15_000;
const OVERALL_TIMEOUT_MS = 50_000;

const summary = { ok: false, steps: [] };
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

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function step(name, fn) {
  const start = Date.now();
  try {
    const detail = await within(fn(), name);
    summary.steps.push({ step: name, ok: true, ms: Date.now() - start, ...(detail ? { detail } : {}) });
    return detail;
  } catch (err) {
    summary.steps.push({ step: name, ok: false, ms: Date.now() - start, error: err?.message ?? String(err), code: err?.code });
    throw err;
  }
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

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

async function main() {
  const app = initializeApp({ projectId: cfg.projectId, apiKey: 'fake-api-key' });
  const auth = getAuth(app);
  connectAuthEmulator(auth, `http://${cfg.authHost}`, { disableWarnings: true });
  const functions = getFunctions(app, cfg.region);
  const fnURL = new URL(cfg.functionsURL);
  connectFunctionsEmulator(functions, fnURL.hostname, Number(fnURL.port));

  const id = (prefix) => prefix + randomUUID().replaceAll('-', '');
  const callId = id('call');
  const otherCallId = id('call');

  const uid = await step('signUp', async () => {
    const cred = await createUserWithEmailAndPassword(auth, `${id('stream')}@example.com`, 'password-123');
    return cred.user.uid;
  });

  // The call document the app's call service owns, written with the
  // emulator's admin bypass.
  await step('seed', async () => {
    const root = `projects/${cfg.projectId}/databases/(default)/documents`;
    const members = (uids) => ({ arrayValue: { values: uids.map((s) => ({ stringValue: s })) } });
    const res = await fetch(`http://${cfg.firestoreHost}/v1/${root}:commit`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer owner' },
      body: JSON.stringify({
        writes: [
          { update: { name: `${root}/calls/${callId}`, fields: { members: members([uid]) } } },
          { update: { name: `${root}/calls/${otherCallId}`, fields: { members: members([id('stranger')]) } } },
        ],
      }),
    });
    check(res.ok, `seed: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  });

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

  await Promise.race([deleteApp(app).catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
}

main().then(
  () => { clearTimeout(watchdog); finish(0); },
  (err) => {
    clearTimeout(watchdog);
    if (!summary.steps.some((s) => !s.ok)) {
      summary.steps.push({ step: 'setup', ok: false, error: err?.message ?? String(err) });
    }
    finish(1);
  },
);
