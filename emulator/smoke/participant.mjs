// A second participant for manual testing (`make client`): the official
// Firebase JS SDK, signed in as a user `make seed` created, doing what the
// app does. It joins the call's active co_reading session (creating one if
// there is none), prints every accepted event as it arrives, in
// sequenceNumber order, keeps its presence fresh, and reads commands:
//
//   story ID    story_selected {storyId: ID}
//   page N      page_changed {pageIndex: N} (changes the state only once a story is selected)
//   close       story_closed
//   leave       leaveSession, then exit
//   end         endSession (owner only)
//   quit        exit without leaving, as a killed app would
//
// Usage: node smoke/participant.mjs USER CALL [HOST]
// HOST (default 127.0.0.1) is where the stack is, with firebase.json's
// ports; AUTH_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST, FUNCTIONS_EMULATOR_URL
// override each.
import { createInterface } from 'node:readline';
import { signInWithEmailAndPassword } from 'firebase/auth';
import {
  collection, doc, setDoc, onSnapshot, query, where, orderBy, serverTimestamp,
} from 'firebase/firestore';
import { httpsCallable } from 'firebase/functions';
import { config, connect } from './harness.mjs';

const [user, callId, host = '127.0.0.1'] = process.argv.slice(2);
if (!user || !callId) {
  console.error('usage: node smoke/participant.mjs USER CALL [HOST]   (make client AS=bob CALL=call1)');
  process.exit(2);
}
const cfg = config(host);
const { auth, db, functions } = connect(cfg);
const call = (name, data) => httpsCallable(functions, name)(data).then((r) => r.data);
const log = (...a) => console.log(new Date().toISOString().slice(11, 23), ...a);

// The seed's users: `make seed` gives each uid the email uid@example.com.
const cred = await signInWithEmailAndPassword(auth, `${user.toLowerCase()}@example.com`, 'password-123');
const uid = cred.user.uid;
log(`signed in as ${uid} (project ${cfg.projectId}, Auth ${cfg.authHost})`);

const { sessions } = await call('discoverSessions', { callId });
let session = sessions.find((s) => s.experienceId === 'co_reading');
if (session) {
  log(`call ${callId} has session ${session.id} (owner ${session.ownerId}); joining`);
} else {
  try {
    ({ session } = await call('createSession', { callId, experienceId: 'co_reading' }));
    log(`created session ${session.id}`);
  } catch (err) {
    // Someone else created one in between: join theirs.
    if (err.code !== 'functions/already-exists') throw err;
    session = err.details.session;
  }
}
const joined = await call('joinSession', { sessionId: session.id });
const state = joined.snapshot?.experienceState;
log(`joined: participants ${joined.session.participants.join(', ')}; snapshot ${state ? JSON.stringify(state) : 'none yet'}; ` +
  `${joined.events.length} event(s) since, up to #${joined.lastEventSequenceNumber}`);
for (const e of joined.events) log(`  #${e.sequenceNumber} ${e.type} ${JSON.stringify(e.data)} from ${e.senderId}`);

// Live from there, in the server's order.
let last = joined.lastEventSequenceNumber;
const events = collection(db, 'experience_sessions', session.id, 'events');
onSnapshot(query(events, where('sequenceNumber', '>', last), orderBy('sequenceNumber')), (snap) => {
  for (const ch of snap.docChanges()) {
    const e = ch.doc.data();
    if (ch.type !== 'added' || e.sequenceNumber <= last) continue;
    last = e.sequenceNumber;
    log(`#${e.sequenceNumber} ${e.type} ${JSON.stringify(e.data)} from ${e.senderId}`);
  }
}, (err) => log('events listener failed:', err.code, err.message));

// Presence: every 5 to 10 s, or checkPresence removes us after the grace.
const beat = () => setDoc(doc(db, 'experience_sessions', session.id, 'presence', uid), { lastSeenAt: serverTimestamp() })
  .catch((err) => log('presence refused:', err.code));
const heartbeat = setInterval(beat, 7000);

let clientSeq = 0;
async function send(type, data) {
  const ref = doc(events);
  await setDoc(ref, { id: ref.id, type, senderId: uid, data, clientSequenceNumber: ++clientSeq, createdAt: serverTimestamp() });
  // Our own verdict: accepted shows up above with its number; a rejection only here.
  const stop = onSnapshot(ref, (s) => {
    const d = s.data();
    if (d?.status === 'rejected') log(`our ${type} was rejected: ${d.rejectReason}`);
    if (d?.status) stop();
  });
}

log('commands: story ID | page N | close | leave | end | quit');
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const [cmd, arg] = line.trim().split(/\s+/);
  try {
    if (cmd === 'page') await send('page_changed', { pageIndex: String(arg) });
    else if (cmd === 'story') await send('story_selected', { storyId: String(arg) });
    else if (cmd === 'close') await send('story_closed', {});
    else if (cmd === 'leave') { await call('leaveSession', { sessionId: session.id }); log('left'); break; }
    else if (cmd === 'end') { await call('endSession', { sessionId: session.id }); log('ended'); }
    else if (cmd === 'quit') break;
    else if (cmd) log('unknown command', cmd);
  } catch (err) {
    log(`${cmd} failed:`, err.code, err.message);
  }
}
clearInterval(heartbeat);
// Without a clean shutdown, as a killed app: the server notices by presence.
process.exit(0);
