// Threads pulls each file from its image_url / video_url ("Threads retrieves your image from the URL
// provided, so it must be on a public server"): the simulator really GETs it over HTTP, streams it (never
// holding more than the first MiB), and checks what Threads checks: the download works, the size limit, the
// bytes are a JPEG/PNG image or an MP4/MOV video, and a video has its index (moov) before its data (mdat).
// What the container then reports: Threads documents error_message values for videos only
// (FAILED_DOWNLOADING_VIDEO, FAILED_PROCESSING_VIDEO, …); an image that fails is reported as UNKNOWN.

export type Pulled = { ok: true; mimeType: string; size: number } | { ok: false; errorMessage: string; reason: string };

const HEAD_BYTES = 1 << 20;

function sniffImage(head: Buffer): string | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  return undefined;
}

/** ISO base media (MP4/MOV): an `ftyp` box first. QuickTime brand `qt  ` is a MOV. */
function sniffVideo(head: Buffer): string | undefined {
  if (head.length < 12 || head.toString('latin1', 4, 8) !== 'ftyp') return undefined;
  return head.toString('latin1', 8, 12) === 'qt  ' ? 'video/quicktime' : 'video/mp4';
}

/** Walks the top-level boxes in the head: true when moov comes before mdat, false when mdat comes first. */
function moovFirst(head: Buffer): boolean | undefined {
  let at = 0;
  while (at + 8 <= head.length) {
    let size = head.readUInt32BE(at);
    const type = head.toString('latin1', at + 4, at + 8);
    if (type === 'moov') return true;
    if (type === 'mdat') return false;
    if (size === 1) {
      if (at + 16 > head.length) return undefined;
      size = Number(head.readBigUInt64BE(at + 8));
    }
    if (size < 8) return undefined; // 0 = to the end of the file: nothing after it
    at += size;
  }
  return undefined; // past what was kept: cannot tell, let it through
}

export async function pullMedia(url: string, kind: 'IMAGE' | 'VIDEO', maxBytes: number, timeoutMs: number): Promise<Pulled> {
  const video = kind === 'VIDEO';
  const failed = (reason: string, errorMessage = video ? 'FAILED_PROCESSING_VIDEO' : 'UNKNOWN'): Pulled => ({ ok: false, errorMessage, reason });
  const downloadFailed = (reason: string) => failed(reason, video ? 'FAILED_DOWNLOADING_VIDEO' : 'UNKNOWN');
  let res: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (e) {
    return downloadFailed(`could not fetch ${url}: ${(e as Error).message}`);
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => {});
    return downloadFailed(`GET ${url} answered ${res.status}`);
  }
  const head: Buffer[] = [];
  let kept = 0;
  let size = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > maxBytes) {
        await res.body.cancel().catch(() => {});
        return failed(`the file is over ${maxBytes} bytes`);
      }
      if (kept < HEAD_BYTES) {
        const part = Buffer.from(chunk.subarray(0, HEAD_BYTES - kept));
        head.push(part);
        kept += part.length;
      }
    }
  } catch (e) {
    return downloadFailed(`the download of ${url} broke off: ${(e as Error).message}`);
  }
  const bytes = Buffer.concat(head);
  if (!video) {
    const mimeType = sniffImage(bytes);
    return mimeType ? { ok: true, mimeType, size } : failed('the file is not a JPEG or PNG image');
  }
  const mimeType = sniffVideo(bytes);
  if (!mimeType) return failed('the file is not an MP4 or MOV video');
  if (moovFirst(bytes) === false) return failed('the video index (moov atom) comes after the media data; Threads needs it first');
  return { ok: true, mimeType, size };
}
