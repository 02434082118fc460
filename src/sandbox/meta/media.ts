// Meta pulls media from the URLs it is given (image_url, video_url, url, file_url, rupload's file_url header):
// the simulator really GETs each over HTTP, streams it (keeping only the first MiB), and probes the bytes
// minimally: the size, the JPEG/PNG signature and the image's dimensions (from the JPEG frame header or the
// PNG IHDR chunk), the MP4/MOV `ftyp` box and, when the index comes first, the movie's duration (mvhd).
// Bytes that arrive in a request body (rupload's local-file variant) go through the same probe.

export type Probed = { mimeType: string; size: number; width?: number; height?: number; durationMs?: number };
export type Pulled = ({ ok: true } & Probed) | { ok: false; failure: 'download' | 'size' | 'format'; reason: string };

const HEAD_BYTES = 1 << 20;

function jpegSize(b: Buffer): { width: number; height: number } | undefined {
  let at = 2;
  while (at + 9 < b.length) {
    if (b[at] !== 0xff) return undefined;
    const marker = b[at + 1]!;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const len = b.readUInt16BE(at + 2);
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: b.readUInt16BE(at + 5), width: b.readUInt16BE(at + 7) };
    }
    at += 2 + len;
  }
  return undefined;
}

export function probeImage(head: Buffer, size: number): Probed | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { mimeType: 'image/jpeg', size, ...jpegSize(head) };
  if (head.length >= 24 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { mimeType: 'image/png', size, width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
  }
  return undefined;
}

/** The movie's duration from moov/mvhd, when moov lies within the bytes kept. */
function mp4DurationMs(head: Buffer): number | undefined {
  const boxes = (from: number, to: number, want: string): number | undefined => {
    let at = from;
    while (at + 8 <= to) {
      let size = head.readUInt32BE(at);
      const type = head.toString('latin1', at + 4, at + 8);
      let body = at + 8;
      if (size === 1) {
        if (at + 16 > to) return undefined;
        size = Number(head.readBigUInt64BE(at + 8));
        body = at + 16;
      }
      if (size < 8) return undefined;
      if (type === want) return body;
      at += size;
    }
    return undefined;
  };
  const moov = boxes(0, head.length, 'moov');
  if (moov === undefined) return undefined;
  const moovEnd = Math.min(head.length, moov - 8 + head.readUInt32BE(moov - 8));
  const mvhd = boxes(moov, moovEnd, 'mvhd');
  if (mvhd === undefined || mvhd + 32 > head.length) return undefined;
  const version = head[mvhd]!;
  const [scale, duration] = version === 1
    ? [head.readUInt32BE(mvhd + 20), Number(head.readBigUInt64BE(mvhd + 24))]
    : [head.readUInt32BE(mvhd + 12), head.readUInt32BE(mvhd + 16)];
  return scale > 0 ? Math.round((duration / scale) * 1000) : undefined;
}

export function probeVideo(head: Buffer, size: number): Probed | undefined {
  if (head.length < 12 || head.toString('latin1', 4, 8) !== 'ftyp') return undefined;
  const mimeType = head.toString('latin1', 8, 12) === 'qt  ' ? 'video/quicktime' : 'video/mp4';
  return { mimeType, size, durationMs: mp4DurationMs(head) };
}

export function probe(kind: 'image' | 'video', head: Buffer, size: number, maxBytes: number): Pulled {
  if (size > maxBytes) return { ok: false, failure: 'size', reason: `the file has ${size} bytes, over the ${maxBytes}-byte limit` };
  const p = kind === 'image' ? probeImage(head, size) : probeVideo(head, size);
  if (!p) return { ok: false, failure: 'format', reason: kind === 'image' ? 'the file is not a JPEG or PNG image' : 'the file is not an MP4 or MOV video' };
  return { ok: true, ...p };
}

/** GETs `url` and probes what arrives; never holds more than the first MiB. */
export async function pull(url: string, kind: 'image' | 'video', maxBytes: number, timeoutMs: number): Promise<Pulled> {
  if (!/^https?:\/\//i.test(url)) return { ok: false, failure: 'download', reason: `${url} is not an http(s) URL` };
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    return { ok: false, failure: 'download', reason: `could not fetch ${url}: ${(e as Error).message}` };
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => {});
    return { ok: false, failure: 'download', reason: `GET ${url} answered ${res.status}` };
  }
  const head: Buffer[] = [];
  let kept = 0;
  let size = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > maxBytes) {
        await res.body.cancel().catch(() => {});
        return { ok: false, failure: 'size', reason: `the file is over the ${maxBytes}-byte limit` };
      }
      if (kept < HEAD_BYTES) {
        const part = Buffer.from(chunk.subarray(0, HEAD_BYTES - kept));
        head.push(part);
        kept += part.length;
      }
    }
  } catch (e) {
    return { ok: false, failure: 'download', reason: `the download of ${url} broke off: ${(e as Error).message}` };
  }
  return probe(kind, Buffer.concat(head), size, maxBytes);
}
