// What the shared connector contract suite needs from each platform: how to make an account on its
// simulator, which operation publishes (the fault target), how the platform words its errors, and how to
// count what was posted. One fixture per connector (test/support/contract-fixtures.ts).
import { Readable } from 'node:stream';
import { isPending, type ConnectorCtx, type ConnectorError, type DraftMedia, type PlatformConnector, type Published, type PublicationDraft } from '../../src/connectors/types.js';
import type { Result } from '../../src/lib/result.js';
import { systemClock } from '../../src/lib/clock.js';
import { newId } from '../../src/lib/ids.js';
import type { SandboxServer } from '../../src/sandbox/index.js';
import type { SimulatorCore } from '../../src/sandbox/framework.js';

export type ContractAccount = { ctx: ConnectorCtx<any>; externalId: string; saved: unknown[]; refreshed: () => number };

export type ContractFixture = {
  name: string;
  connector: PlatformConnector<any>;
  core(sandbox: SandboxServer): SimulatorCore;
  /** `config.operation` of the request that creates the post (where faults are injected). */
  publishOperation: string;
  /** Creates an account on the simulator and a ConnectorCtx for it (with ctx.refresh wired for OAuth platforms). */
  account(sandbox: SandboxServer): Promise<ContractAccount>;
  /** The platform's own body for a refusal with this status (what its docs show). */
  errorBody(status: 400 | 403): unknown;
  /** How many posts the simulator holds for the account. */
  posted(sandbox: SandboxServer, externalId: string): number;
  /** False for a platform whose tokens do not expire (Mastodon): an expired-token answer is lost access, not a refresh. */
  refreshes?: boolean;
  /** False for a platform whose 429 names no wait (the connector then picks its own, which must be positive). */
  sendsRetryAfter?: boolean;
  /** Options a plain text post needs on this platform (e.g. nothing, or a visibility). */
  options?: Record<string, unknown>;
  /** Categories a refused credential may take on a platform that does not refresh (default: revoked, auth_expired). */
  lostAccess?: string[];
  /** Files a post needs on a platform without text-only posts (TikTok and YouTube: one video), fresh per call. */
  media?(): Promise<DraftMedia[]>;
};

export const silentLog = { info() {}, warn() {}, error() {} };

export function baseCtx<C>(sandbox: SandboxServer, platform: string, credentials: C, saved: unknown[]): ConnectorCtx<C> {
  return {
    credentials,
    saveCredentials: async (next) => void saved.push(next),
    checkpoint: async () => {},
    baseUrl: `${sandbox.url}/${platform}`,
    sandbox: true,
    clock: systemClock,
    log: silentLog,
    signal: AbortSignal.timeout(10_000),
  };
}

export function textDraft(text: string, options: Record<string, unknown> = {}, media: DraftMedia[] = []): PublicationDraft {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options, media, checkpoint: null };
}

/** A file of a draft from bytes in memory (url: what Crier would sign for platforms that pull, or null). */
export function memoryMedia(bytes: Buffer, m: { kind: 'image' | 'video'; mimeType: string; width: number; height: number; durationMs?: number; alt?: string; url?: string | null }): DraftMedia {
  return { mediaId: newId('media'), size: bytes.length, url: null, ...m, open: async () => Readable.from([bytes]) };
}

/**
 * Publishes and, while the platform answers Pending, checks its status as the worker would (after the wait
 * it asks for, capped so tests stay quick) until it is published or fails.
 */
export async function publishSettled<C>(connector: PlatformConnector<C>, ctx: ConnectorCtx<C>, draft: PublicationDraft, maxChecks = 100): Promise<Result<Published, ConnectorError>> {
  let r = await connector.publish(ctx, draft);
  for (let i = 0; r.ok && isPending(r.value); i++) {
    if (i >= maxChecks || !connector.checkStatus) throw new Error(`still pending after ${i} checks: ${JSON.stringify(r.value)}`);
    await new Promise((done) => setTimeout(done, Math.min(r.ok && isPending(r.value) ? r.value.pending.checkAfterMs : 0, 250)));
    r = await connector.checkStatus(ctx, draft, (r.value as { pending: { ref: Record<string, unknown> } }).pending.ref);
  }
  return r as Result<Published, ConnectorError>;
}

/** A signal that aborts once the simulator has served `operation` for the account but holds back its answer. */
export function abortOnceServed(core: SimulatorCore, account: string, operation: string): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if (!core.log.some((r) => r.account === account && r.operation === operation)) return;
    clearInterval(timer);
    controller.abort(new DOMException('timed out', 'TimeoutError'));
  }, 10);
  return controller.signal;
}
