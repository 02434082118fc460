// The platform simulators on their own port in their own process (`startSandboxServer`), for benchmarks that
// must not count the simulated platform's CPU against Crier's event loop. Prints {"url": ...} once
// listening; its state is read over HTTP (/bluesky/_sim/records, /bluesky/_sim/requests). Stops on SIGTERM.
import { startSandboxServer } from '../src/sandbox/index.js';

const sandbox = await startSandboxServer();
process.stdout.write(`${JSON.stringify({ url: sandbox.url })}\n`);
const stop = () => {
  sandbox.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
