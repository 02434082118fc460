// All platform simulators behind one prefix each (`/bluesky`, …). Mounted at /sandbox inside Crier for
// sandbox mode, or served on their own port by tests and benchmarks.
import Fastify, { type FastifyInstance } from 'fastify';
import { createBlueskySimulator, type BlueskySimulator } from './bluesky/simulator.js';

export type Sandbox = {
  bluesky: BlueskySimulator;
  plugin: (app: FastifyInstance) => Promise<void>;
};

export function createSandbox(opts: { secret?: string } = {}): Sandbox {
  const bluesky = createBlueskySimulator({ secret: opts.secret });
  return {
    bluesky,
    async plugin(app) {
      await app.register(bluesky.plugin, { prefix: '/bluesky' });
    },
  };
}

export type SandboxServer = Sandbox & { url: string; close(): Promise<void> };

/** A sandbox on its own port: `url` is what CRIER_SANDBOX_URL takes. */
export async function startSandboxServer(opts: { secret?: string; port?: number } = {}): Promise<SandboxServer> {
  const sandbox = createSandbox(opts);
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(sandbox.plugin);
  const address = await app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  return { ...sandbox, url: address, close: () => app.close() };
}
