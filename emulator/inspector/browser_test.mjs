// The inspector in a real browser (run by TestInspectorInBrowser): a user of
// the Firebase JS SDK creates a session and writes events; headless
// Chromium, driven by playwright-core, must show them with their numbers, a
// rejection with its reason, the state at an earlier number, and, once the
// latency is raised from the page, the next event's delivery delayed.
//
// Prints one JSON line with every step's result; exits 0 on success.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createUserWithEmailAndPassword } from 'firebase/auth';
import { doc, setDoc, onSnapshot, serverTimestamp } from 'firebase/firestore';
import { httpsCallable } from 'firebase/functions';
import { config, connect, disconnect, newID, check, seed, strArray, run } from '../smoke/harness.mjs';

const cfg = {
  ...config(), inspectorURL: process.env.INSPECTOR_URL || 'http://127.0.0.1:4000',
  screenshot: process.env.SCREENSHOT || '', latencyMs: 1500,
};
// The same flags as the README's: this machine's network refuses the
// browser's background connections, and there is no GPU or sandbox.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 20_000;
const OVERALL_TIMEOUT_MS = 100_000;

// decided resolves with the event document once the functions gave it a
// status.
function decided(ref) {
  return new Promise((resolve, reject) => {
    let unsubscribe = () => {};
    const timer = setTimeout(() => { unsubscribe(); reject(new Error(`${ref.path} not decided within ${WAIT_MS} ms`)); }, WAIT_MS);
    unsubscribe = onSnapshot(ref, (snap) => {
      const d = snap.data({ serverTimestamps: 'none' });
      if (d?.status && (d.status === 'rejected' || d.sequencedAt)) {
        clearTimeout(timer); unsubscribe(); resolve(d);
      }
    }, (err) => { clearTimeout(timer); reject(err); });
  });
}

async function main(step, summary) {
  const { app, auth, db, functions } = connect(cfg);
  const id = newID;

  const uid = await step('signUp', async () =>
    (await createUserWithEmailAndPassword(auth, `${id('insp')}@example.com`, 'password-123')).user.uid);
  const callId = id('call');
  // The app's call service writes calls (admin only).
  await step('seed call', () => seed(cfg, { [`calls/${callId}`]: { members: strArray([uid]) } }));
  const sessionId = await step('createSession', async () =>
    (await httpsCallable(functions, 'createSession')({ callId, experienceId: 'co_reading' })).data.session.id);
  summary.sessionId = sessionId;

  let clientSeq = 0;
  const write = async (type, data) => {
    const eventId = id('e');
    const ref = doc(db, 'experience_sessions', sessionId, 'events', eventId);
    await setDoc(ref, { id: eventId, type, senderId: uid, data, clientSequenceNumber: ++clientSeq, createdAt: serverTimestamp() });
    return { eventId, ref };
  };
  // One at a time, so the numbers are known: #1 is createSession's participant_joined.
  const written = await step('write events', async () => {
    const out = [];
    for (const [type, data] of [['story_selected', { storyId: 'moon' }], ['page_changed', { pageIndex: '3' }],
      ['page_changed', { pageIndex: 'three' }], ['page_changed', { pageIndex: '7' }]]) {
      const { eventId, ref } = await write(type, data);
      out.push({ eventId, ...(await decided(ref)) });
    }
    const got = out.map((e) => e.status === 'accepted' ? e.sequenceNumber : e.rejectReason);
    check(JSON.stringify(got) === JSON.stringify([2, 3, 'invalid_data', 4]), `outcomes ${JSON.stringify(got)}`);
    return got;
  });
  void written;

  const userDataDir = mkdtempSync(join(tmpdir(), 'inspector-chromium-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1180, height: 860 },
  });
  try {
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await step('open the session', async () => {
      await page.goto(`${cfg.inspectorURL}/#session=${sessionId}`);
      await page.locator(`a.sess[data-session="${sessionId}"]`).waitFor({ timeout: WAIT_MS });
      await page.locator('#events tr[data-seq="4"]').waitFor({ timeout: WAIT_MS });
    });
    await step('events with their numbers', async () => {
      const rows = await page.locator('#events tbody tr').evaluateAll((trs) => trs.map((tr) =>
        [tr.dataset.seq, tr.children[1].textContent, tr.classList.contains('system')]));
      const want = [['1', 'participant_joinedsystem', true], ['2', 'story_selected', false], ['3', 'page_changed', false], ['4', 'page_changed', false]];
      check(JSON.stringify(rows) === JSON.stringify(want), `rows ${JSON.stringify(rows)}`);
      const lastSeq = await page.locator('[data-fact="lastEventSequenceNumber"]').textContent();
      check(lastSeq === '4', `lastEventSequenceNumber shown ${lastSeq}`);
      return rows.length;
    });
    await step('the rejection with its reason', async () => {
      const reason = await page.locator('#rejected tbody tr td.reason').allTextContents();
      check(JSON.stringify(reason) === '["invalid_data"]', `rejected ${JSON.stringify(reason)}`);
      const data = await page.locator('#rejected tbody tr td.data').textContent();
      check(data.includes('three'), `rejected data ${data}`);
    });
    await step('current state, then the state at an earlier number', async () => {
      const current = JSON.parse(await page.locator('#current-state').textContent());
      check(current.state.selectedStoryId === 'moon' && current.state.currentPageIndex === 7, `current ${JSON.stringify(current)}`);
      await page.locator('#step-back').click();
      await page.locator('#state-at-view[data-at="3"]').waitFor({ timeout: WAIT_MS });
      const at3 = JSON.parse(await page.locator('#state-at-view').textContent());
      check(at3.state.currentPageIndex === 3, `state at #3 ${JSON.stringify(at3)}`);
      await page.locator('#state-at-number').fill('1');
      await page.locator('#state-at-number').dispatchEvent('change');
      await page.locator('#state-at-view[data-at="1"]').waitFor({ timeout: WAIT_MS });
      const at1 = JSON.parse(await page.locator('#state-at-view').textContent());
      check(at1.state.selectedStoryId === '' && at1.participants.includes(uid), `state at #1 ${JSON.stringify(at1)}`);
      check(await page.locator('#events tr.at[data-seq="1"]').count() === 1, 'row #1 not highlighted');
    });
    await step('raise the latency from the page', async () => {
      // Nothing may still be on its way: the next delivery is the one measured.
      await page.locator('[data-counter="pending"]', { hasText: 'pending 0' }).waitFor({ timeout: WAIT_MS });
      await page.locator('#controls summary').click();
      await page.locator('#faults [name=minLatencyMs]').fill(String(cfg.latencyMs));
      await page.locator('#faults [name=maxLatencyMs]').fill(String(cfg.latencyMs));
      await page.locator('#apply-faults').click();
      await page.locator('#faults-text', { hasText: 'latency 1.5s to 1.5s' }).waitFor({ timeout: WAIT_MS });
    });
    await step('the next delivery is delayed', async () => {
      const { ref } = await write('page_changed', { pageIndex: '8' });
      const d = await decided(ref);
      check(d.status === 'accepted' && d.sequenceNumber === 5, `event ${JSON.stringify(d)}`);
      const delayMs = d.sequencedAt.toMillis() - d.createdAt.toMillis();
      check(delayMs >= cfg.latencyMs, `sequenced ${delayMs} ms after its commit, want >= ${cfg.latencyMs}`);
      await page.locator('#events tr[data-seq="5"]').waitFor({ timeout: WAIT_MS });
      const shown = await page.locator('#events tr[data-seq="5"] td.delay').textContent();
      check(/\(\d+\.\d s\)/.test(shown), `delay shown ${shown}`);
      return { delayMs, shown };
    });
    if (cfg.screenshot) {
      await step('screenshot', async () => {
        await page.locator('#controls summary').click(); // closed: more of the session shows
        await page.setViewportSize({ width: 1180, height: 1040 });
        // A past state beside the current one.
        await page.locator('#state-at-number').fill('3');
        await page.locator('#state-at-number').dispatchEvent('change');
        await page.locator('#state-at-view[data-at="3"]').waitFor({ timeout: WAIT_MS });
        await page.screenshot({ path: cfg.screenshot, type: cfg.screenshot.endsWith('.png') ? 'png' : 'jpeg', ...(cfg.screenshot.endsWith('.png') ? {} : { quality: 70 }) });
      });
    }
    check(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  } finally {
    await browser.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  }
  await disconnect(app);
}

run(main, { timeoutMs: OVERALL_TIMEOUT_MS });
