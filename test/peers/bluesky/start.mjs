// Starts the official Bluesky PDS with a PLC directory (@atproto/dev-env, PDS-only: no appview, so no
// Postgres or Redis), for test/pds.bluesky.test.ts. Run with Node 22 (the PDS needs it); the test spawns it.
// - Every server it starts listens on 127.0.0.1 only: dev-env calls listen(port) without a host (all
//   interfaces), so net.Server#listen is wrapped before anything is loaded.
// - dev-env keeps its data under os.tmpdir() and never cleans up: TMPDIR becomes a scratch folder, removed
//   on exit.
// Prints one JSON line, {"pds": url, "plc": url}, once ready; stops on SIGTERM, SIGINT or when stdin closes.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null && !('fd' in args[0]) && !('path' in args[0])) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  } else if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    // listen(port[, host][, backlog][, cb]): put our host in the host slot, keep the rest.
    const rest = args.slice(1);
    if (typeof rest[0] === 'string') rest.shift();
    args = [args[0], '127.0.0.1', ...rest];
  }
  return listen.apply(this, args);
};

const scratch = mkdtempSync(path.join(os.tmpdir(), 'crier-bsky-pds-'));
process.env.TMPDIR = scratch;
// dev-env reads a few settings from the environment; keep its logs quiet unless asked.
process.env.LOG_ENABLED ??= 'false';

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => listen.call(server, 0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let network;
let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  try {
    await network?.close();
  } catch (error) {
    console.error('closing the PDS failed:', error);
  }
  rmSync(scratch, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.on('error', () => void stop());
process.stdin.resume();

try {
  const { TestNetworkNoAppView } = await import('@atproto/dev-env');
  network = await TestNetworkNoAppView.create({
    plc: { port: await freePort() },
    pds: { port: await freePort(), hostname: 'localhost' },
  });
  process.stdout.write(`${JSON.stringify({ pds: `http://127.0.0.1:${network.pds.port}`, plc: network.plc.url.replace('localhost', '127.0.0.1') })}\n`);
} catch (error) {
  console.error('the PDS did not start:', error);
  await stop(1);
}
