// What the API and worker share, built once by the composition root (src/main.ts) and passed down.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Db } from './db/pool.js';
import type { Clock } from './lib/clock.js';
import type { KeyRing } from './lib/crypto.js';
import type { MediaServices } from './media/context.js';

export type AppContext = {
  config: Config;
  db: Db;
  /** The database actually used (DATABASE_URL, or the embedded server's). */
  databaseUrl: string;
  keyRing: KeyRing;
  clock: Clock;
  log: Logger;
  /** Base URL of the platform simulators for sandbox accounts (undefined when sandbox mode is off). */
  sandboxUrl: string | undefined;
  /** Where this API listens (set once it does); OAuth callbacks use CRIER_PUBLIC_URL before it. */
  apiUrl?: string;
  media: MediaServices;
};

/** Channel the API notifies when publications become due soon, so an idle worker wakes at once. */
export const DUE_CHANNEL = 'crier_publications_due';

/** Channel notified when media work (a URL to fetch, a rendition to make) is waiting. */
export const MEDIA_CHANNEL = 'crier_media';

/** Channel notified (by the statement that inserts events) when webhook deliveries are waiting. */
export const WEBHOOK_CHANNEL = 'crier_webhooks';
