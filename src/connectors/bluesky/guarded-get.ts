// Fetching a URL a user gave (a link card's page or image, a DID document) through Crier's SSRF guard
// (src/lib/ssrf.ts: http(s) only, no credentials, only public addresses, checked at connect time so DNS
// rebinding cannot slip through, every redirect re-checked), with size limits and the caller's deadline.
// Which URLs may be private is the operator's media-fetching setting (CRIER_ALLOW_PRIVATE_URLS,
// CRIER_MEDIA_ALLOWED_HOSTS): the connector context carries no configuration, so it is read from the
// environment here, the same variables the API's config reads.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { checkUrl, guardedLookup, policyFor, type UrlPolicy } from '../../lib/ssrf.js';

const MAX_REDIRECTS = 3;

export function urlPolicyFromEnv(env: Record<string, string | undefined> = process.env): UrlPolicy {
  return {
    allowPrivate: ['true', '1', 'yes', 'on'].includes((env['CRIER_ALLOW_PRIVATE_URLS'] ?? '').toLowerCase()),
    allowHosts: (env['CRIER_MEDIA_ALLOWED_HOSTS'] ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
  };
}

export type Fetched = { url: string; contentType: string; body: Buffer };

/** GET through the guard; follows redirects (each re-checked); refuses bodies over `maxBytes`. */
export async function guardedGet(rawUrl: string, opts: { policy: UrlPolicy; maxBytes: number; signal: AbortSignal; accept: string; stopAt?: string }): Promise<Fetched> {
  let url = rawUrl;
  for (let hop = 0; ; hop++) {
    const res = await get(url, opts);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      url = new URL(res.headers.location, url).toString();
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new Error(`the server answered ${status}`);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxBytes && !opts.stopAt) {
      res.destroy();
      throw new Error(`${declared} bytes is over the ${opts.maxBytes} bytes read`);
    }
    return { url, contentType: String(res.headers['content-type'] ?? ''), body: await read(res, opts.maxBytes, opts.stopAt) };
  }
}

function get(url: string, opts: { policy: UrlPolicy; signal: AbortSignal; accept: string }): Promise<IncomingMessage> {
  const parsed = checkUrl(url, opts.policy);
  const client = parsed.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(parsed, {
      lookup: guardedLookup(policyFor(parsed, opts.policy)),
      signal: opts.signal,
      headers: { 'user-agent': 'Crier', accept: opts.accept },
    }, resolve);
    req.on('error', reject);
  });
}

/** Reads up to `max` bytes; a page stops early at `stopAt` (its tags are all in <head>), a file past `max` fails. */
async function read(res: IncomingMessage, max: number, stopAt?: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > max) {
      res.destroy();
      if (stopAt) {
        chunks.push(buf.subarray(0, buf.length - (size - max)));
        break;
      }
      throw new Error(`over the ${max} bytes read`);
    }
    chunks.push(buf);
    if (stopAt && buf.includes(stopAt)) {
      res.destroy();
      break;
    }
  }
  return Buffer.concat(chunks);
}
