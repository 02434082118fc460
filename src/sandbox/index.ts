// All platform simulators behind one prefix each (`/bluesky`, …). Mounted at /sandbox inside Crier for
// sandbox mode, or served on their own port by tests and benchmarks.
import Fastify, { type FastifyInstance } from 'fastify';
import { createBlueskySimulator, type BlueskySimulator } from './bluesky/simulator.js';
import { createLinkedInSimulator, type LinkedInSimulator } from './linkedin/simulator.js';
import { createMastodonSimulator, type MastodonSimulator } from './mastodon/simulator.js';
import { createMetaSimulator, type MetaSimulator } from './meta/simulator.js';
import { createPinterestSimulator, type PinterestSimulator } from './pinterest/simulator.js';
import { createRedditSimulator, type RedditSimulator } from './reddit/simulator.js';
import { createThreadsSimulator, type ThreadsSimulator } from './threads/simulator.js';
import { createXSimulator, type XSimulator } from './x/simulator.js';
import { createYouTubeSimulator, type YouTubeSimulator } from './youtube/simulator.js';
import { createLateSimulator, type LateSimulator } from './providers/late.js';
import { createPostForMeSimulator, type PostForMeSimulator } from './providers/postforme.js';

export type Sandbox = {
  bluesky: BlueskySimulator;
  linkedin: LinkedInSimulator;
  mastodon: MastodonSimulator;
  /** Facebook Pages and Instagram: one Graph simulator, mounted at /facebook and at /instagram. */
  meta: MetaSimulator;
  pinterest: PinterestSimulator;
  reddit: RedditSimulator;
  threads: ThreadsSimulator;
  x: XSimulator;
  youtube: YouTubeSimulator;
  /** Aggregator providers (platforms.md §12). */
  postforme: PostForMeSimulator;
  late: LateSimulator;
  plugin: (app: FastifyInstance) => Promise<void>;
};

export function createSandbox(opts: { secret?: string } = {}): Sandbox {
  const bluesky = createBlueskySimulator({ secret: opts.secret });
  const linkedin = createLinkedInSimulator({ secret: opts.secret });
  const mastodon = createMastodonSimulator({ secret: opts.secret });
  const meta = createMetaSimulator({ secret: opts.secret });
  const pinterest = createPinterestSimulator({ secret: opts.secret });
  const reddit = createRedditSimulator({ secret: opts.secret });
  const threads = createThreadsSimulator({ secret: opts.secret });
  const x = createXSimulator({ secret: opts.secret });
  const youtube = createYouTubeSimulator({ secret: opts.secret });
  const postforme = createPostForMeSimulator();
  const late = createLateSimulator();
  return {
    bluesky,
    linkedin,
    mastodon,
    meta,
    pinterest,
    reddit,
    threads,
    x,
    youtube,
    postforme,
    late,
    async plugin(app) {
      await app.register(bluesky.plugin, { prefix: '/bluesky' });
      await app.register(linkedin.plugin, { prefix: '/linkedin' });
      await app.register(mastodon.plugin, { prefix: '/mastodon' });
      await app.register(meta.plugin, { prefix: '/facebook' });
      await app.register(meta.plugin, { prefix: '/instagram' });
      await app.register(pinterest.plugin, { prefix: '/pinterest' });
      await app.register(reddit.plugin, { prefix: '/reddit' });
      await app.register(threads.plugin, { prefix: '/threads' });
      await app.register(x.plugin, { prefix: '/x' });
      await app.register(youtube.plugin, { prefix: '/youtube' });
      await app.register(postforme.plugin, { prefix: '/postforme' });
      await app.register(late.plugin, { prefix: '/late' });
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
