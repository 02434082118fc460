// What the Facebook and Instagram connector tests share: a small file server standing in for Crier's signed
// media URLs (Meta fetches every file from a URL), little media fixtures made on the spot, and connector
// contexts on the Meta simulator whose checkpoints land on the draft as the worker's would.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { ConnectorCtx, DraftMedia, PublicationDraft } from '../../src/connectors/types.js';
import { SANDBOX_APP } from '../../src/connectors/auth-types.js';
import type { OAuth2Auth } from '../../src/connectors/auth-types.js';
import { systemClock } from '../../src/lib/clock.js';
import { newId } from '../../src/lib/ids.js';
import type { MetaCredentials } from '../../src/connectors/meta/graph.js';

export const silent = { info() {}, warn() {}, error() {} };

export type FileServer = {
  url: string;
  /** Paths requested, with their query. */
  hits: string[];
  serve(bytes: Buffer, type: string): string;
  /** A URL that answers `status` instead of a file. */
  broken(status: number): string;
  close(): Promise<void>;
};

export async function startFileServer(): Promise<FileServer> {
  const files = new Map<string, { bytes: Buffer; type: string } | number>();
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url!);
    const f = files.get(req.url!.split('?')[0]!);
    if (f === undefined || typeof f === 'number') return void res.writeHead(typeof f === 'number' ? f : 404).end('not here');
    res.writeHead(200, { 'content-type': f.type, 'content-length': f.bytes.length }).end(f.bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    hits,
    serve(bytes, type) {
      const p = `/media/${newId('media')}`;
      files.set(p, { bytes, type });
      return `${url}${p}?sig=test`;
    },
    broken(status) {
      const p = `/media/${newId('media')}`;
      files.set(p, status);
      return `${url}${p}?sig=test`;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export type MetaFixtures = { jpeg: Buffer; square: Buffer; wide: Buffer; png: Buffer; mp4: Buffer; shortMp4: Buffer; notMedia: Buffer };

/** Small files: 400×300 and 500×500 JPEGs, a 1000×300 one (too wide for Instagram), a PNG, a 4 s and a 1 s MP4. */
export async function makeMetaFixtures(): Promise<MetaFixtures> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'crier-meta-'));
  try {
    const ff = (out: string, secs: number) =>
      promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=25:duration=${secs}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', out]);
    await Promise.all([ff(path.join(tmp, 'four.mp4'), 4), ff(path.join(tmp, 'one.mp4'), 1)]);
    const img = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#3366aa' } });
    const [jpeg, square, wide, png, mp4, shortMp4] = await Promise.all([
      img(400, 300).jpeg().toBuffer(),
      img(500, 500).jpeg().toBuffer(),
      img(1000, 300).jpeg().toBuffer(),
      img(300, 300).png().toBuffer(),
      readFile(path.join(tmp, 'four.mp4')),
      readFile(path.join(tmp, 'one.mp4')),
    ]);
    return { jpeg, square, wide, png, mp4, shortMp4, notMedia: Buffer.from('this is not a picture, just some text that pretends to be one') };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A DraftMedia whose URL the file server answers, as Crier's signed URL would. */
export function media(files: FileServer, bytes: Buffer, kind: 'image' | 'video', extra: Partial<DraftMedia> = {}): DraftMedia {
  const type = kind === 'video' ? 'video/mp4' : bytes[0] === 0x89 ? 'image/png' : 'image/jpeg';
  return { mediaId: newId('media'), kind, mimeType: type, size: bytes.length, width: 1, height: 1, url: files.serve(bytes, type), open: async () => Readable.from([bytes]), ...extra };
}

export type TestAccount<C> = { ctx: ConnectorCtx<C>; id: string; refreshed: () => number };

/** A context on the simulator; ctx.refresh goes through the connector's own auth, as the worker's does. */
export function metaCtx<C extends MetaCredentials>(base: string, credentials: C, auth?: OAuth2Auth<any>): TestAccount<C> {
  let refreshed = 0;
  const ctx: ConnectorCtx<C> = {
    credentials,
    saveCredentials: async () => {},
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(20_000),
  };
  if (auth?.refresh) {
    ctx.refresh = async () => {
      refreshed++;
      const r = await auth.refresh!({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) }, ctx.credentials);
      if (r.ok) ctx.credentials = r.value as C;
      return r;
    };
  }
  return { ctx, id: '', refreshed: () => refreshed };
}

/** A draft whose checkpoints (saved through `a.ctx.checkpoint`) land on it, as the worker hands them to the next attempt. */
export function metaDraft(a: { ctx: ConnectorCtx<any> }, text: string, mediaList: DraftMedia[] = [], options: Record<string, unknown> = {}): PublicationDraft {
  const id = newId('publication');
  const d: PublicationDraft = { publicationId: id, marker: id, text, options, media: mediaList, checkpoint: null };
  a.ctx.checkpoint = async (state) => void (d.checkpoint = state);
  return d;
}

/** A signal that aborts once the simulator has served `operation` `times` more times for the account (the last answer held back). */
export function abortWhenServed(log: { account?: string; operation: string }[], account: string, operation: string, times = 1): AbortSignal {
  const controller = new AbortController();
  const seen = log.filter((r) => r.account === account && r.operation === operation).length;
  const timer = setInterval(() => {
    if (log.filter((r) => r.account === account && r.operation === operation).length < seen + times) return;
    clearInterval(timer);
    controller.abort(new DOMException('timed out', 'TimeoutError'));
  }, 10);
  return controller.signal;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
