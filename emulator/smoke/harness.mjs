// The harness the JS SDK scripts share (client.mjs, stream.mjs,
// participant.mjs, ../inspector/browser_test.mjs): where the stack is, the
// SDK connected to it, the emulator's admin write for what only the
// backend or the call service may write, and the run of numbered steps that
// prints one JSON line and always ends the process (Firestore and gRPC keep
// handles open, and a hung emulator would hang the test that runs us).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { initializeApp, deleteApp, onLog } from 'firebase/app';
import { getAuth, connectAuthEmulator } from 'firebase/auth';
import { getFirestore, connectFirestoreEmulator, disableNetwork, enableNetwork } from 'firebase/firestore';
import { getFunctions, connectFunctionsEmulator } from 'firebase/functions';

// config says where the stack is: each of PROJECT_ID, AUTH_EMULATOR_HOST,
// FIRESTORE_EMULATOR_HOST, FUNCTIONS_EMULATOR_URL and REGION from the
// environment (the Go tests' stack sets them all), else `make run`'s, from
// firebase.json and .firebaserc, on host.
export function config(host = '127.0.0.1') {
  const fb = JSON.parse(readFileSync(new URL('../../firebase.json', import.meta.url)));
  const rc = JSON.parse(readFileSync(new URL('../../.firebaserc', import.meta.url)));
  const at = (name) => (host.includes(':') ? `[${host}]` : host) + ':' + fb.emulators[name].port;
  const env = process.env;
  return {
    projectId: env.PROJECT_ID || rc.projects.default,
    authHost: env.AUTH_EMULATOR_HOST || at('auth'),
    firestoreHost: env.FIRESTORE_EMULATOR_HOST || at('firestore'),
    functionsURL: env.FUNCTIONS_EMULATOR_URL || `http://${at('functions')}`,
    region: env.REGION || 'us-central1',
  };
}

// splitHostPort is Go's net.SplitHostPort: "[::1]:8080" is ["::1", 8080].
export function splitHostPort(hp) {
  const i = hp.lastIndexOf(':');
  check(i > 0, `want host:port, got ${hp}`);
  return [hp.slice(0, i).replace(/^\[|\]$/g, ''), Number(hp.slice(i + 1))];
}

// networkErrors records every fetch that failed below HTTP, for a failed
// run's summary: the SDK reports those as functions/internal and keeps no
// cause. The SDK's own calls go through the global fetch unchanged; the
// wrapper only looks at failures and rethrows them as they were.
const networkErrors = [];
const plainFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  try {
    return await plainFetch(input, init);
  } catch (err) {
    networkErrors.push({
      at: new Date().toISOString(), url: String(input?.url ?? input),
      error: err?.message ?? String(err), cause: err?.cause?.code ?? err?.cause?.message,
    });
    throw err;
  }
};

// connect is the official SDK, unchanged, pointed at the emulators.
export function connect(cfg) {
  const app = initializeApp({ projectId: cfg.projectId, apiKey: 'fake-api-key' });
  const auth = getAuth(app);
  connectAuthEmulator(auth, `http://${cfg.authHost}`, { disableWarnings: true });
  const db = getFirestore(app);
  connectFirestoreEmulator(db, ...splitHostPort(cfg.firestoreHost));
  const functions = getFunctions(app, cfg.region);
  const fnURL = new URL(cfg.functionsURL);
  connectFunctionsEmulator(functions, fnURL.hostname.replace(/^\[|\]$/g, ''), Number(fnURL.port));
  return { app, auth, db, functions };
}

// restartGarbledStreams works around a fault of the Firestore emulator, not
// of the backend under test: at times a Listen stream receives a frame the
// SDK cannot parse ("Received message larger than max (2294059997 vs
// 4194304)", a length no message has, seen once in a fresh-clone CI run;
// firebase-tools#8654 reports the like), and the SDK, taking it for a quota
// error, waits its maximum backoff (30 to 90 s) before it listens again.
// Restarting the SDK's network starts its streams again at once. Each
// restart is recorded in summary.streamRestarts, at most max of them; the
// steps' own deadlines still hold.
export function restartGarbledStreams(db, summary, max = 3) {
  let busy = false;
  onLog(({ message }) => {
    if (busy || !/Received message larger than max/.test(message)) return;
    summary.streamRestarts ??= [];
    if (summary.streamRestarts.length >= max) return;
    busy = true;
    summary.streamRestarts.push({ at: new Date().toISOString(), message: message.slice(0, 300) });
    disableNetwork(db).then(() => enableNetwork(db)).catch(() => {}).finally(() => { busy = false; });
  }, { level: 'error' });
}

// disconnect is best effort: a clean shutdown is nicer to the emulators,
// but the verdict is already known.
export function disconnect(app) {
  return Promise.race([deleteApp(app).catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
}

export const newID = (prefix) => prefix + randomUUID().replaceAll('-', '');

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

// expectRejected runs fn, which must fail with the given SDK error code: a
// success is a security hole, another code a different fault.
export async function expectRejected(fn, code) {
  try {
    await fn();
  } catch (err) {
    check(err?.code === code, `want error code ${code}, got ${err?.code}: ${err?.message}`);
    return { code: err.code, message: err.message };
  }
  throw new Error(`want error code ${code}, but the call succeeded`);
}

// The REST encoding of seeded fields.
export const str = (s) => ({ stringValue: s });
export const ts = (d) => ({ timestampValue: d.toISOString() });
export const strArray = (a) => ({ arrayValue: { values: a.map(str) } });

// seed writes, in one commit, documents no client may write under the
// rules (calls are the call service's, sessions the functions'): through
// the emulator's REST API with its admin bypass ("Bearer owner"). docs maps
// a document path to its REST-encoded fields.
export async function seed(cfg, docs) {
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

// run runs main(step, summary) and prints summary as one JSON line: every
// step's name, duration and detail or error. It exits 0 when main
// resolves, 1 when it throws or when the whole run takes over timeoutMs;
// with stepTimeoutMs, a step that does not settle within it fails.
export function run(main, { timeoutMs, stepTimeoutMs = 0, summary = {} }) {
  Object.assign(summary, { ok: false, steps: [] });
  let finished = false;
  const finish = (code) => {
    if (finished) return;
    finished = true;
    summary.ok = code === 0;
    if (networkErrors.length) summary.networkErrors = networkErrors;
    process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(code));
  };
  const watchdog = setTimeout(() => {
    summary.steps.push({ step: 'watchdog', ok: false, error: `not done within ${timeoutMs} ms` });
    finish(1);
  }, timeoutMs);

  const within = (promise, what) => {
    if (!stepTimeoutMs) return promise;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${stepTimeoutMs} ms`)), stepTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };
  const step = async (name, fn) => {
    const start = Date.now();
    try {
      const detail = await within(fn(), name);
      summary.steps.push({ step: name, ok: true, ms: Date.now() - start, ...(detail ? { detail } : {}) });
      return detail;
    } catch (err) {
      summary.steps.push({
        step: name, ok: false, ms: Date.now() - start,
        error: err?.message ?? String(err), ...(err?.code ? { code: err.code } : {}),
      });
      throw err;
    }
  };

  main(step, summary).then(
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
}
