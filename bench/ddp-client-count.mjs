// `bench vs-ddp-client`: Rocket.Chat's own client, @rocket.chat/ddp-client, on the same
// firehose as the bridge, doing nothing but count. Driven by bench/src/ddp_client.rs:
//
//   node ddp-client-count.mjs <ddp-client-check dir> <base url> <token> <count>
//
// Connects, logs in with the token, subscribes to `__my_messages__`, prints `ready`; the
// bench then freezes this process (SIGSTOP) while the simulator produces the firehose,
// resumes it (SIGCONT) and times it until it prints `done <count>`. The package is loaded
// from the directory the ddp-client check installs it into (its lockfile).
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [dir, baseUrl, token, countArg] = process.argv.slice(2);
const want = Number(countArg);
if (!dir || !baseUrl || !token || !(want > 0)) {
  console.error('usage: node ddp-client-count.mjs <dir> <base url> <token> <count>');
  process.exit(2);
}
const require = createRequire(join(dir, 'package.json'));
const { DDPSDK } = require('@rocket.chat/ddp-client');

const sdk = await DDPSDK.createAndConnect(baseUrl);
await sdk.account.loginWithToken(token);
let seen = 0;
const finished = new Promise((resolve) => {
  sdk.stream('room-messages', '__my_messages__', () => {
    seen += 1;
    if (seen === want) resolve();
  });
});
// `stream()` does not wait for `ready`: give the subscription a moment, as the check does.
await new Promise((r) => setTimeout(r, 500));
process.stdout.write('ready\n');
await finished;
process.stdout.write(`done ${seen}\n`);
sdk.connection.close();
setTimeout(() => process.exit(0), 50);
