// The connectors' HTTP seam against real sockets: whether a failed request may have reached the platform.
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../src/connectors/http.js';
import { freePort } from '../src/db/embedded.js';

let server: http.Server;
let base: string;
/** Server-side sockets of requests to /early, to see whether the client let go of them. */
const earlySockets: net.Socket[] = [];
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/early') {
      earlySockets.push(req.socket);
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"error":"ExpiredToken"}');
    }
    if (req.url === '/slow') return setTimeout(() => res.end('{}'), 2_000);
    if (req.url === '/reset') return req.socket.destroy();
    if (req.url === '/huge') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 32);
      let sent = 0;
      const pump = () => {
        while (sent < 20 && res.write(chunk)) sent++;
        if (sent < 20) res.once('drain', pump);
        else res.end();
      };
      return pump();
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ method: req.method, body: JSON.parse(body || 'null'), auth: req.headers.authorization }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('the connectors HTTP seam', () => {
  it('sends JSON and returns status, headers and the parsed body', async () => {
    const r = await request(`${base}/x`, { method: 'POST', json: { a: 1 }, headers: { authorization: 'Bearer t' }, signal: AbortSignal.timeout(2_000) });
    expect(r.ok && r.value.status).toBe(201);
    expect(r.ok && r.value.body).toEqual({ method: 'POST', body: { a: 1 }, auth: 'Bearer t' });
    expect(r.ok && r.value.headers.get('retry-after')).toBe('7');
  });

  it('reports a refused connection as unreachable, nothing sent, safe to retry', async () => {
    const r = await request(`http://127.0.0.1:${await freePort()}/x`, { method: 'POST', json: {}, signal: AbortSignal.timeout(2_000), sideEffect: true });
    expect(!r.ok && r.error).toMatchObject({ code: 'PLATFORM_UNREACHABLE', category: 'transient', retryable: true });
    expect(!r.ok && r.error.outcomeUnknown).toBeUndefined();
  });

  it('reports a timeout of a creating call as outcome unknown', async () => {
    const r = await request(`${base}/slow`, { method: 'POST', json: {}, signal: AbortSignal.timeout(200), sideEffect: true });
    expect(!r.ok && r.error).toMatchObject({ code: 'PLATFORM_TIMEOUT', outcomeUnknown: true });
  });

  it('reports a connection reset mid-request of a creating call as outcome unknown', async () => {
    const r = await request(`${base}/reset`, { method: 'POST', json: {}, signal: AbortSignal.timeout(2_000), sideEffect: true });
    expect(!r.ok && r.error).toMatchObject({ code: 'PLATFORM_CONNECTION_LOST', outcomeUnknown: true });
  });

  it('does not mark a failed read as outcome unknown', async () => {
    const r = await request(`${base}/slow`, { signal: AbortSignal.timeout(200) });
    expect(!r.ok && r.error.code).toBe('PLATFORM_TIMEOUT');
    expect(!r.ok && r.error.outcomeUnknown).toBe(false);
  });

  it('refuses a response larger than 16 MiB instead of buffering it', async () => {
    const r = await request(`${base}/huge`, { signal: AbortSignal.timeout(5_000) });
    expect(r.ok).toBe(false);
  });

  it('streams a body of the stated length', async () => {
    const bytes = Buffer.from(JSON.stringify({ file: 'x'.repeat(100_000) }));
    const r = await request(`${base}/x`, { method: 'POST', body: { stream: Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]), length: bytes.length }, signal: AbortSignal.timeout(2_000) });
    expect(r.ok && (r.value.body as any).body.file.length).toBe(100_000);
  });

  it('fails a streamed body shorter or longer than its length at once, as a media read error whose request was never whole', async () => {
    for (const [chunks, length] of [[['12345'], 10], [['12345', '67890'], 7]] as const) {
      const started = Date.now();
      const r = await request(`${base}/x`, { method: 'POST', body: { stream: Readable.from(chunks.map((c) => Buffer.from(c))), length }, signal: AbortSignal.timeout(5_000), sideEffect: true });
      expect(!r.ok && r.error).toMatchObject({ code: 'MEDIA_FAILED', retryable: true, outcomeUnknown: false });
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });

  it('reports a file that fails to read as a media read error', async () => {
    const failing = new Readable({ read() { this.destroy(new Error('disk on fire')); } });
    const r = await request(`${base}/x`, { method: 'POST', body: { stream: failing, length: 100 }, signal: AbortSignal.timeout(2_000), sideEffect: true });
    expect(!r.ok && r.error).toMatchObject({ code: 'MEDIA_FAILED', outcomeUnknown: false });
    expect(!r.ok && r.error.message).toMatch(/disk on fire/);
  });

  it('takes an answer that comes before the body is sent, stops reading the file and lets go of the connection', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 65_536;
        setTimeout(() => this.push(Buffer.alloc(65_536)), 5);
      },
    });
    const r = await request(`${base}/early`, { method: 'POST', body: { stream: endless, length: 1_000_000_000 }, signal: AbortSignal.timeout(5_000), sideEffect: true });
    expect(r.ok && r.value.status).toBe(401);
    expect(endless.destroyed).toBe(true);
    // Closed by the client at once, not by the server's keep-alive timeout (5 s) much later.
    const socket = earlySockets.at(-1)!;
    const answered = Date.now();
    await new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
    expect(Date.now() - answered).toBeLessThan(1_000);
    expect(produced).toBeLessThan(1_000_000_000);
  });

  it('does not send at all when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await request(`${base}/x`, { method: 'POST', json: {}, signal: controller.signal });
    expect(r.ok).toBe(false);
  });
});
