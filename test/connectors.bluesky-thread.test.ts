// Bluesky threads and replies against the simulator over real HTTP: the reply chain with strong refs, a
// checkpoint after each post, an attempt cut short that the next attempt continues (with or without its
// checkpoint) without posting anything twice, read-back of a whole thread, replies to existing posts by
// at:// URI or bsky.app URL; and connecting an account with an app password.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blueskyAuth } from '../src/connectors/bluesky/auth.js';
import { blueskyConnector, type BlueskyCredentials } from '../src/connectors/bluesky/connector.js';
import { tidForPublication } from '../src/connectors/bluesky/tid.js';
import { isPending, type ConnectorCtx, type PublicationDraft, type Published } from '../src/connectors/types.js';
import { bodyAjv } from '../src/lib/ajv.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';

const CREATE = 'com.atproto.repo.createRecord';
const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;
beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/bluesky`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => sandbox.bluesky.core.clearFaults());

type Account = { ctx: ConnectorCtx<BlueskyCredentials>; did: string; checkpoints: Record<string, unknown>[]; saved: BlueskyCredentials[] };
async function account(): Promise<Account> {
  const created = await blueskyConnector.sandbox!.createAccount(base, `t${Math.random().toString(36).slice(2, 9)}`);
  const checkpoints: Record<string, unknown>[] = [];
  const saved: BlueskyCredentials[] = [];
  const ctx: ConnectorCtx<BlueskyCredentials> = {
    credentials: created.credentials,
    saveCredentials: async (next) => void saved.push(next),
    checkpoint: async (state) => void checkpoints.push(structuredClone(state)),
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(10_000),
  };
  return { ctx, did: created.externalId, checkpoints, saved };
}
const draft = (text: string, options: Record<string, unknown> = {}, checkpoint: Record<string, unknown> | null = null, publicationId = newId('publication')): PublicationDraft => ({ publicationId, marker: publicationId, text, options, media: [], checkpoint });
const posts = (did: string) => [...(sandbox.bluesky.repos.get(did)?.values() ?? [])].sort((a, b) => (a.rkey < b.rkey ? -1 : 1));
const ref = (r: { uri: string; cid: string }) => ({ uri: r.uri, cid: r.cid });
function published(r: Awaited<ReturnType<typeof blueskyConnector.publish>>): Published {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  if (isPending(r.value)) throw new Error('pending');
  return r.value;
}
/** Aborts the attempt once the simulator has served the `n`-th createRecord of the account (its answer held back). */
function abortAtCreate(did: string, n: number): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if (sandbox.bluesky.core.log.filter((r) => r.account === did && r.operation === CREATE).length < n) return;
    clearInterval(timer);
    controller.abort(new DOMException('timed out', 'TimeoutError'));
  }, 5);
  return controller.signal;
}
const thread = { thread: [{ text: 'two #b' }, { text: 'three' }] };

describe('Bluesky threads', () => {
  it('publishes the main post then each follow-up as a reply to the one before, checkpointing before each next post', async () => {
    const a = await account();
    const d = draft('one https://example.com', thread);
    const r = published(await blueskyConnector.publish(a.ctx, d));
    const [p1, p2, p3] = posts(a.did);
    expect([p1, p2, p3].map((p) => p!.rkey)).toEqual([0, 1, 2].map((i) => tidForPublication(d.publicationId, i)));
    expect(r).toEqual({ platformPostId: p1!.uri, url: `${base}/profile/${a.ctx.credentials.handle}/post/${p1!.rkey}` });
    expect(p1!.value['reply']).toBeUndefined();
    expect(p2!.value['reply']).toEqual({ root: ref(p1!), parent: ref(p1!) });
    expect(p3!.value['reply']).toEqual({ root: ref(p1!), parent: ref(p2!) });
    expect((p2!.value['facets'] as any[])[0].features[0]).toEqual({ $type: 'app.bsky.richtext.facet#tag', tag: 'b' });
    // Only the first post carries the link card's embed slot; follow-ups are text.
    expect(p2!.value['embed']).toBeUndefined();
    expect(a.checkpoints).toEqual([
      { posted: [p1!.uri], cids: [p1!.cid], root: ref(p1!) },
      { posted: [p1!.uri, p2!.uri], cids: [p1!.cid, p2!.cid], root: ref(p1!) },
    ]);
    expect((await blueskyConnector.findExisting!(a.ctx, d)).ok && (await blueskyConnector.findExisting!(a.ctx, d))).toMatchObject({ value: r });
  });

  it('continues after the last checkpointed post when a follow-up failed, and reads an unfinished thread as not published', async () => {
    const a = await account();
    const d = draft('one', thread);
    // The second createRecord of this account fails with a 503 (the first goes through).
    a.ctx.checkpoint = async (state) => {
      a.checkpoints.push(structuredClone(state));
      if (a.checkpoints.length === 1) sandbox.bluesky.core.addFault({ operation: CREATE, account: a.did, fault: { kind: 'status', status: 503 } });
    };
    const first = await blueskyConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ category: 'transient', retryable: true });
    expect(!first.ok && first.error.message).toMatch(/^1 post\(s\) of the thread are published \(first: at:\/\/.*\); post 2 failed/);
    expect(posts(a.did)).toHaveLength(1);
    expect(await blueskyConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: null });
    const again = published(await blueskyConnector.publish(a.ctx, { ...d, checkpoint: a.checkpoints.at(-1)! }));
    const all = posts(a.did);
    expect(all.map((p) => p.value['text'])).toEqual(['one', 'two #b', 'three']);
    expect(again.platformPostId).toBe(all[0]!.uri);
    expect(all[2]!.value['reply']).toEqual({ root: ref(all[0]!), parent: ref(all[1]!) });
  });

  it('never posts twice when a follow-up went through but its answer was lost, with or without the checkpoint', async () => {
    for (const keepCheckpoint of [true, false]) {
      const a = await account();
      const d = draft(`lost answer ${keepCheckpoint}`, thread);
      a.ctx.checkpoint = async (state) => {
        a.checkpoints.push(structuredClone(state));
        if (a.checkpoints.length === 1) {
          sandbox.bluesky.core.addFault({ operation: CREATE, account: a.did, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
          a.ctx.signal = abortAtCreate(a.did, 2);
        }
      };
      const first = await blueskyConnector.publish(a.ctx, d);
      expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true });
      expect(posts(a.did)).toHaveLength(2);
      a.ctx.signal = AbortSignal.timeout(10_000);
      a.ctx.checkpoint = async () => {};
      // The worker reads back first: the thread is not whole, so it publishes again and the connector
      // finds the posts already at their record keys instead of writing them twice.
      expect(await blueskyConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: null });
      const again = published(await blueskyConnector.publish(a.ctx, { ...d, checkpoint: keepCheckpoint ? a.checkpoints.at(-1)! : null }));
      const all = posts(a.did);
      expect(all.map((p) => p.value['text'])).toEqual([`lost answer ${keepCheckpoint}`, 'two #b', 'three']);
      expect(again.platformPostId).toBe(all[0]!.uri);
      expect(all[2]!.value['reply']).toEqual({ root: ref(all[0]!), parent: ref(all[1]!) });
    }
  });

  it('validates every post of a thread against Bluesky\'s limits, and allows at most 25 follow-ups', () => {
    const issues = blueskyConnector.validate({ text: 'ok', options: { thread: [{ text: 'fine' }, { text: 'é'.repeat(301) }, { text: '  ' }] }, media: [] });
    expect(issues.map((i) => [i.code, i.field, i.actual])).toEqual([
      ['TEXT_TOO_LONG', 'options.bluesky.thread[1].text', 301],
      ['TEXT_EMPTY', 'options.bluesky.thread[2].text', undefined],
    ]);
    const check = bodyAjv.compile(blueskyConnector.optionsSchema);
    expect(check({ thread: Array.from({ length: 25 }, () => ({ text: 'x' })) })).toBe(true);
    expect(check({ thread: Array.from({ length: 26 }, () => ({ text: 'x' })) })).toBe(false);
    expect(check({ thread: [{ text: 'x', media: [] }] })).toBe(false);
  });
});

describe('Bluesky replies', () => {
  it('replies to a post by its bsky.app URL, to a reply by its at:// URI (root carried over), and threads under it', async () => {
    const a = await account();
    const top = draft('top');
    published(await blueskyConnector.publish(a.ctx, top));
    const topPost = posts(a.did)[0]!;
    const viaUrl = draft('reply one', { reply_to: `https://bsky.app/profile/${a.ctx.credentials.handle}/post/${topPost.rkey}` });
    const r1 = published(await blueskyConnector.publish(a.ctx, viaUrl));
    const reply1 = posts(a.did).find((p) => p.uri === r1.platformPostId)!;
    expect(reply1.value['reply']).toEqual({ root: ref(topPost), parent: ref(topPost) });
    const deeper = draft('reply two', { reply_to: reply1.uri, thread: [{ text: 'and more' }] });
    const r2 = published(await blueskyConnector.publish(a.ctx, deeper));
    const reply2 = posts(a.did).find((p) => p.uri === r2.platformPostId)!;
    const more = posts(a.did).find((p) => p.value['text'] === 'and more')!;
    expect(reply2.value['reply']).toEqual({ root: ref(topPost), parent: ref(reply1) });
    expect(more.value['reply']).toEqual({ root: ref(topPost), parent: ref(reply2) });
  });

  it('refuses a reply to a post that does not exist as a content error, posting nothing', async () => {
    const a = await account();
    const r = await blueskyConnector.publish(a.ctx, draft('to nothing', { reply_to: `at://${a.did}/app.bsky.feed.post/3kzzzzzzzzzz2` }));
    expect(!r.ok && r.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: 'RecordNotFound', retryable: false });
    expect(!r.ok && r.error.outcomeUnknown).toBeFalsy();
    expect(posts(a.did)).toHaveLength(0);
  });
});

describe('connecting a Bluesky account with an app password', () => {
  const loginCtx = (sandboxMode: boolean) => ({ baseUrl: base, sandbox: sandboxMode, clock: systemClock, log: silent, signal: AbortSignal.timeout(10_000) });

  it('signs in with createSession, keeps the app password, and takes the PDS of the DID document only when it is public https', async () => {
    const a = await account();
    const account_ = sandbox.bluesky.accounts.get(a.did)!;
    const login = await blueskyAuth.login(loginCtx(false), `@${account_.handle}`, account_.password);
    if (!login.ok) throw new Error(JSON.stringify(login.error));
    expect(login.value).toMatchObject({ externalId: a.did, username: account_.handle, kind: 'user', credentials: { did: a.did, appPassword: account_.password } });
    // The simulator's own URL (http, loopback) is not taken as the account's PDS.
    expect(login.value.credentials.pdsUrl).toBeUndefined();
    for (const [pds, taken] of [['https://93.184.216.34', 'https://93.184.216.34'], ['https://10.0.0.5', undefined], ['http://93.184.216.34', undefined], ['https://[::1]', undefined]] as const) {
      account_.pds = pds;
      const again = await blueskyAuth.login(loginCtx(false), account_.handle, account_.password);
      expect(again.ok && again.value.credentials.pdsUrl, pds).toBe(taken);
    }
    // Sandbox accounts always stay on the simulator.
    const sandboxed = await blueskyAuth.login(loginCtx(true), account_.handle, account_.password);
    expect(sandboxed.ok && sandboxed.value.credentials.pdsUrl).toBeUndefined();
    delete account_.pds;
  });

  it('refuses a wrong password as an auth error, and a taken-down account as revoked', async () => {
    const a = await account();
    const handle = a.ctx.credentials.handle;
    const wrong = await blueskyAuth.login(loginCtx(true), handle, 'wrong-password');
    expect(!wrong.ok && wrong.error).toMatchObject({ category: 'auth_expired', platformCode: 'AuthenticationRequired', retryable: false });
    sandbox.bluesky.core.addFault({ operation: 'com.atproto.server.createSession', fault: { kind: 'status', status: 401, body: { error: 'AccountTakedown', message: 'Account has been taken down' } } });
    const gone = await blueskyAuth.login(loginCtx(true), handle, sandbox.bluesky.accounts.get(a.did)!.password);
    expect(!gone.ok && gone.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED' });
  });

  it('replaces an expired refresh token with a new session from the kept app password, and publishes', async () => {
    const a = await account();
    sandbox.bluesky.core.addFault({ operation: CREATE, account: a.did, fault: { kind: 'expired_token' } });
    sandbox.bluesky.core.addFault({ operation: 'com.atproto.server.refreshSession', fault: { kind: 'expired_token' } });
    published(await blueskyConnector.publish(a.ctx, draft('after a new session')));
    expect(a.saved).toHaveLength(1);
    expect(a.saved[0]!.appPassword).toBe(a.ctx.credentials.appPassword);
    expect(sandbox.bluesky.core.log.filter((r) => r.operation === 'com.atproto.server.createSession').at(-1)).toMatchObject({ status: 200 });
    expect(posts(a.did)).toHaveLength(1);
  });
});
