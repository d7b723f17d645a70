// Independent check of the simulator with Rocket.Chat's own client, @rocket.chat/ddp-client.
//
// Starts the simulator binary (path in argv[2]) on a free port, logs in as a bot with a PAT
// through `account.loginWithToken`, subscribes to `__my_messages__` through the SDK stream API,
// has another user post over REST (`chat.sendMessage`), and checks the bot receives that message
// unmodified: the same document the REST call returned (dates compared as instants) and the same
// document the simulator stored. Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import ddp from '@rocket.chat/ddp-client';

const { DDPSDK } = ddp;
const binary = process.argv[2];
if (!binary) {
  console.error('usage: node check.mjs <path-to-rocketchat-sim>');
  process.exit(2);
}

const seed = {
  users: [
    { username: 'checkbot', bot: true, pats: [{ name: 'check' }] },
    { username: 'alice', pats: [{ name: 'check' }] },
  ],
  rooms: [{ name: 'checkroom', type: 'c', creator: 'alice', members: ['checkbot'] }],
};

const fail = (msg) => {
  console.error(`ddp-client check FAILED: ${msg}`);
  process.exitCode = 1;
};

// Dates: REST sends ISO strings, DDP sends {"$date": ms}. Normalize both to ms.
const normalize = (v) => {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$date') return v.$date;
    return Object.fromEntries(keys.map((k) => [k, normalize(v[k])]));
  }
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v)) return Date.parse(v);
  return v;
};

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))]);

async function main() {
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'rcsim-'));
  const seedPath = join(dir, 'seed.json');
  writeFileSync(seedPath, JSON.stringify(seed));

  const sim = spawn(binary, ['--port', '0', '--seed', seedPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await withTimeout(
      new Promise((resolve, reject) => {
        createInterface({ input: sim.stdout }).once('line', resolve);
        sim.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
      }),
      30000,
      'simulator start',
    );
    const info = JSON.parse(line);
    const bot = info.seed.users.checkbot;
    const alice = info.seed.users.alice;
    const rid = info.seed.rooms.checkroom;

    // The SDK appends /websocket itself, so it takes the base URL.
    const sdk = await withTimeout(DDPSDK.createAndConnect(info.baseUrl), 10000, 'connect');
    const login = await withTimeout(sdk.account.loginWithToken(bot.pats.check), 10000, 'login');
    assert.equal(login.id, bot.userId, 'login result id');
    assert.equal(login.type, 'resume', 'login result type');
    assert.equal(sdk.account.uid, bot.userId, 'account uid');
    assert.equal(sdk.account.user?.username, 'checkbot', 'username from the users added frame');

    const received = new Promise((resolve) => {
      const sub = sdk.stream('room-messages', '__my_messages__', (msg, extra) => resolve({ msg, extra, sub }));
    });
    // Give the sub a moment to be registered before posting (ready is not awaited by stream()).
    await new Promise((r) => setTimeout(r, 300));

    const res = await fetch(`${info.baseUrl}/api/v1/chat.sendMessage`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-User-Id': alice.userId,
        'X-Auth-Token': alice.pats.check,
      },
      body: JSON.stringify({ message: { rid, msg: 'hello @checkbot from alice' } }),
    });
    const rest = await res.json();
    assert.equal(res.status, 200, `REST send: ${JSON.stringify(rest)}`);

    const { msg, extra } = await withTimeout(received, 10000, 'message on __my_messages__');
    assert.equal(msg._id, rest.message._id, 'same message id');
    assert.equal(msg.u._id, alice.userId, 'sent by alice');
    assert.deepEqual(normalize(msg), normalize(rest.message), 'stream document equals the REST response');
    assert.deepEqual(extra, { roomParticipant: true, roomType: 'c', roomName: 'checkroom' });
    assert.ok(msg.mentions.some((m) => m._id === bot.userId && m.type === 'user'), 'bot mention');

    const stored = await fetch(`${info.baseUrl}/_sim/message`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ messageId: msg._id }),
    }).then((r) => r.json());
    assert.deepEqual(normalize(msg), normalize(stored.message), 'stream document equals the stored one');

    sdk.connection.close();
    console.log('ddp-client check passed');
  } catch (e) {
    fail(e?.stack ?? String(e));
  } finally {
    sim.kill('SIGTERM');
  }
  // The SDK may hold timers; exit explicitly.
  setTimeout(() => process.exit(process.exitCode ?? 0), 100);
}

main();
