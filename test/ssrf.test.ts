// The SSRF guard and the media download, against real HTTP servers on loopback: private addresses in any
// spelling, names that resolve to them, redirects, size and time limits.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { lookup } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUrl } from '../src/lib/ssrf.js';
import { downloadToFile, MediaFetchError, type DownloadOptions } from '../src/media/fetch-url.js';

const BODY = Buffer.from('GIF89a pretend image bytes '.repeat(100));
let server: Server;
let other: Server;
let base: string;
let otherBase: string;
const file = path.join(tmpdir(), `crier-ssrf-${process.pid}`);

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    switch (url.pathname) {
      case '/ok.gif':
        return res.writeHead(200, { 'content-type': 'image/gif', 'content-disposition': 'attachment; filename="cat picture.gif"' }).end(BODY);
      case '/redirect':
        return res.writeHead(302, { location: url.searchParams.get('to')! }).end();
      case '/loop':
        return res.writeHead(302, { location: '/loop' }).end();
      case '/big-declared':
        return res.writeHead(200, { 'content-length': String(10_000_000) }).end();
      case '/big-chunked': {
        res.writeHead(200, { 'content-type': 'video/mp4' });
        const chunk = Buffer.alloc(64 * 1024, 1);
        let sent = 0;
        const pump = () => {
          while (sent < 4_000_000 && res.write(chunk)) sent += chunk.length;
          if (sent < 4_000_000) res.once('drain', pump);
          else res.end();
        };
        return pump();
      }
      case '/slow':
        res.writeHead(200);
        res.write('x');
        return; // never ends
      default:
        return res.writeHead(404).end('no');
    }
  });
  other = createServer((_req, res) => res.writeHead(200).end('internal secret'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  other?.close();
  await rm(file, { force: true });
});

/** Only the test server's exact host:port is exempt; every other host is checked. */
const opts = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
  policy: { allowPrivate: false, allowHosts: [new URL(base).host] },
  maxBytes: 1_000_000,
  timeoutMs: 5_000,
  idleTimeoutMs: 1_000,
  ...extra,
});

async function failure(url: string, o = opts()): Promise<MediaFetchError> {
  const e = await downloadToFile(url, file, o).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(MediaFetchError);
  expect(existsSync(file)).toBe(false);
  return e as MediaFetchError;
}

describe('the URL check', () => {
  it.each([
    'http://127.0.0.1/a.jpg',
    'http://localhost/a.jpg',
    'http://sub.localhost/a.jpg',
    'http://[::1]/a.jpg',
    'http://10.0.0.5/a.jpg',
    'http://172.16.3.4/a.jpg',
    'http://192.168.1.1/a.jpg',
    'http://169.254.169.254/latest/meta-data/',
    'http://0.0.0.0/a.jpg',
    'http://100.64.0.1/a.jpg',
    'http://224.0.0.1/a.jpg',
    'http://255.255.255.255/a.jpg',
    'http://[::ffff:127.0.0.1]/a.jpg',
    'http://[::ffff:10.0.0.1]/a.jpg',
    'http://[fe80::1]/a.jpg',
    'http://[fc00::1]/a.jpg',
    'http://[64:ff9b::a00:1]/a.jpg',
    'http://[2002:a00:1::]/a.jpg',
    'http://2130706433/a.jpg',
    'http://0177.0.0.1/a.jpg',
    'http://0x7f.0.0.1/a.jpg',
    'http://0x7f.1/a.jpg',
    'file:///etc/passwd',
    'gopher://example.com/',
    'ftp://example.com/a.jpg',
    'http://user:secret@example.com/a.jpg',
    'not a url',
  ])('refuses %s', (url) => {
    expect(() => checkUrl(url, { allowPrivate: false })).toThrow(expect.objectContaining({ code: 'URL_NOT_ALLOWED' }));
  });

  it('lets public addresses and names through to the connect-time check', () => {
    for (const url of ['https://example.com/a.jpg', 'http://93.184.216.34/a.jpg', 'https://[2606:2800:220:1::]/a.jpg']) expect(checkUrl(url, { allowPrivate: false }).href).toBeTruthy();
  });
});

describe('downloading', () => {
  it('downloads an allowed URL with its size, sha256, type and a safe filename', async () => {
    const r = await downloadToFile(`${base}/ok.gif`, file, opts());
    expect(r).toMatchObject({ size: BODY.length, contentType: 'image/gif', filename: 'cat picture.gif', sha256: createHash('sha256').update(BODY).digest('hex') });
    expect((await readFile(file)).equals(BODY)).toBe(true);
    await rm(file);
  });

  it('refuses a name that resolves to a private address, at connect time', async () => {
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    expect(addresses.length, `${name} should resolve on this machine`).toBeGreaterThan(0);
    const port = new URL(base).port;
    const e = await failure(`http://${name}:${port}/ok.gif`);
    expect(e.code).toBe('URL_NOT_ALLOWED');
    expect(e.message).toMatch(/non-public address/);
  });

  it('re-checks every redirect: to another private host, to file: or gopher:, and stops loops', async () => {
    const toPrivate = await failure(`${base}/redirect?to=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`);
    expect(toPrivate.code).toBe('URL_NOT_ALLOWED');
    const port = new URL(otherBase).port;
    const toOtherLoopback = await failure(`${base}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${port}/`)}`);
    expect(toOtherLoopback.code).toBe('URL_NOT_ALLOWED');
    for (const target of ['file:///etc/passwd', 'gopher://127.0.0.1:70/']) {
      expect((await failure(`${base}/redirect?to=${encodeURIComponent(target)}`)).code).toBe('URL_NOT_ALLOWED');
    }
    expect((await failure(`${base}/loop`)).code).toBe('TOO_MANY_REDIRECTS');
  });

  it('refuses a declared size over the limit without reading, and stops a stream that grows past it', async () => {
    const declared = await failure(`${base}/big-declared`);
    expect(declared).toMatchObject({ code: 'MEDIA_TOO_LARGE' });
    const streamed = await failure(`${base}/big-chunked`);
    expect(streamed.code).toBe('MEDIA_TOO_LARGE');
  });

  it('gives up on a server that stops sending, and reports a 404 with its status', async () => {
    expect((await failure(`${base}/slow`)).code).toBe('MEDIA_FETCH_TIMEOUT');
    expect(await failure(`${base}/missing.jpg`)).toMatchObject({ code: 'MEDIA_FETCH_FAILED', status: 404 });
  });
});
