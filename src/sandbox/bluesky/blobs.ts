// Blobs and media embeds the way a Bluesky PDS handles them. Read from the reference PDS
// (bluesky-social/atproto, Aug 2026: packages/pds actor-store/blob/transactor.ts, repo/prepare.ts,
// api/com/atproto/repo/uploadBlob.ts; xrpc-server util.ts; lex-schema blob.ts and validation-issue.ts;
// lexicons app.bsky.embed.images / .video / .defs):
// - uploadBlob keeps whatever bytes it is given, untethered: it hashes them (sha256, CIDv1 raw, "bafkrei…"),
//   takes the type from the bytes (file-type) and falls back to the Content-Type. Its only size check is the
//   PDS's upload cap (PDS_BLOB_UPLOAD_LIMIT; the self-hosting distro sets 50 MiB, bluesky-social/pds#91):
//   413 PayloadTooLarge "request entity too large", refused from Content-Length before reading.
// - The lexicon's limits (image: image/*, maxSize; video: video/mp4, ≤ 300 MB; ≤ 4 images; alt required;
//   aspectRatio integers ≥ 1) apply when a record references the blob ("Blob restrictions … are enforced
//   when the reference is created"), as record validation: 400 InvalidRequest "Invalid app.bsky.feed.post
//   record: blob too big (maximum 1000000, got 1200000) at $.record.embed.images[0].image".
// - Then each referenced blob must be one this repo uploaded: 400 BlobNotFound "Could not find blob: <cid>"
//   (a blob of another account is not found), then InvalidMimeType / InvalidSize when the reference's
//   mimeType or size differ from what was stored.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export type SimBlob = { cid: string; mimeType: string; size: number; createdAt: string };

export type BlueskySimLimits = {
  /** The PDS's per-upload cap (uploadBlob answers 413 above it). */
  uploadMaxBytes: number;
  /** Image embeds. The 2026 lexicon says 2,000,000; older servers and clients enforce 1,000,000 (platforms.md §9). */
  imageMaxBytes: number;
  /** Video embeds (lexicon maxSize). */
  videoMaxBytes: number;
};

export const DEFAULT_LIMITS: BlueskySimLimits = { uploadMaxBytes: 52_428_800, imageMaxBytes: 1_000_000, videoMaxBytes: 300_000_000 };

const POST = 'app.bsky.feed.post';
/** app.bsky.embed.external#external thumb maxSize. */
const EXTERNAL_THUMB_MAX_BYTES = 1_000_000;
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A real CIDv1 (multibase base32, sha2-256): codec 0x55 raw for blobs, 0x71 dag-cbor for records. */
export function cidFor(codec: 0x55 | 0x71, sha256: Buffer): string {
  const bytes = Buffer.concat([Buffer.from([0x01, codec, 0x12, 0x20]), sha256]);
  let out = 'b';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** The type from the first bytes, for the formats a post carries; undefined when unknown (then Content-Type wins). */
export function sniffMime(head: Buffer): string | undefined {
  const ascii = (from: number, to: number) => head.subarray(from, to).toString('latin1');
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'image/png';
  if (ascii(0, 4) === 'GIF8') return 'image/gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (brand === 'qt  ') return 'video/quicktime';
    if (brand === 'avif' || brand === 'avis') return 'image/avif';
    if (brand === 'heic' || brand === 'heix') return 'image/heic';
    if (brand === 'mif1' || brand === 'msf1') return 'image/heif';
    return 'video/mp4';
  }
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return ascii(0, 64).includes('webm') ? 'video/webm' : 'video/x-matroska';
  if (ascii(0, 5) === '%PDF-') return 'application/pdf';
  return undefined;
}

/**
 * Reads an upload to its end, hashing as it goes (nothing is kept but the metadata: the sandbox never
 * serves blob bytes back). Past `max` bytes it keeps draining but stops hashing, so the client still
 * gets the 413 rather than a reset connection.
 */
export async function readUpload(body: Readable | undefined, max: number): Promise<{ sha256: Buffer; size: number; head: Buffer } | 'too_large'> {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headSize = 0;
  let size = 0;
  for await (const chunk of body ?? []) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > max) continue;
    hash.update(buf);
    if (headSize < 64) {
      head.push(buf.subarray(0, 64 - headSize));
      headSize += Math.min(buf.length, 64 - headSize);
    }
  }
  if (size > max) return 'too_large';
  return { sha256: hash.digest(), size, head: Buffer.concat(head) };
}

/** A record validation failure, worded like the PDS's lexicon validator (issue + JSON path). */
const invalid = (issue: string, path: string) => ({ error: 'InvalidRequest', message: `Invalid ${POST} record: ${issue} at $.record.${path}` });
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'undefined' : typeof v === 'object' ? (v === null ? 'null' : Array.isArray(v) ? 'array' : 'object') : String(v));

export type EmbedProblem = { error: string; message: string };

type BlobRef = { $type?: unknown; ref?: { $link?: unknown }; mimeType?: unknown; size?: unknown };

/** Lexicon checks of one blob reference (shape, accepted type, size). */
function checkBlobRef(ref: unknown, path: string, accept: 'image/*' | 'video/mp4', maxSize: number): EmbedProblem | undefined {
  const b = ref as BlobRef | undefined;
  if (!b || typeof b !== 'object' || b.$type !== 'blob' || typeof b.ref?.$link !== 'string' || typeof b.mimeType !== 'string' || !Number.isInteger(b.size)) {
    return invalid(`Expected blob value type (got ${show(ref)})`, path);
  }
  const ok = accept === 'image/*' ? b.mimeType.startsWith('image/') : b.mimeType === accept;
  if (!ok) return invalid(`Expected "${accept}" (got ${show(b.mimeType)})`, `${path}.mimeType`);
  if ((b.size as number) > maxSize) return invalid(`blob too big (maximum ${maxSize}, got ${String(b.size)})`, path);
  return undefined;
}

function checkAspectRatio(ar: unknown, path: string): EmbedProblem | undefined {
  if (ar === undefined) return undefined;
  if (!ar || typeof ar !== 'object') return invalid(`Expected object value type (got ${show(ar)})`, path);
  for (const key of ['width', 'height'] as const) {
    const v = (ar as Record<string, unknown>)[key];
    if (v === undefined) return invalid(`Missing required key "${key}"`, path);
    if (!Number.isInteger(v)) return invalid(`Expected integer value type (got ${show(v)})`, `${path}.${key}`);
    if ((v as number) < 1) return invalid(`integer too small (minimum 1, got ${String(v)})`, `${path}.${key}`);
  }
  return undefined;
}

/** Record validation of an images, video or external (link card) embed; returns the blob references it makes. */
export function validateEmbed(embed: unknown, limits: BlueskySimLimits): { problem?: EmbedProblem; refs: BlobRef[] } {
  if (embed === undefined) return { refs: [] };
  const e = embed as { $type?: unknown; images?: unknown; video?: unknown; alt?: unknown; aspectRatio?: unknown };
  if (e.$type === 'app.bsky.embed.images') {
    if (!Array.isArray(e.images)) return { problem: e.images === undefined ? invalid('Missing required key "images"', 'embed') : invalid(`Expected array value type (got ${show(e.images)})`, 'embed.images'), refs: [] };
    if (e.images.length > 4) return { problem: invalid(`array too big (maximum 4, got ${e.images.length})`, 'embed.images'), refs: [] };
    for (const [i, img] of (e.images as Record<string, unknown>[]).entries()) {
      const at = `embed.images[${i}]`;
      if (img?.['image'] === undefined) return { problem: invalid('Missing required key "image"', at), refs: [] };
      if (img['alt'] === undefined) return { problem: invalid('Missing required key "alt"', at), refs: [] };
      if (typeof img['alt'] !== 'string') return { problem: invalid(`Expected string value type (got ${show(img['alt'])})`, `${at}.alt`), refs: [] };
      const problem = checkBlobRef(img['image'], `${at}.image`, 'image/*', limits.imageMaxBytes) ?? checkAspectRatio(img['aspectRatio'], `${at}.aspectRatio`);
      if (problem) return { problem, refs: [] };
    }
    return { refs: (e.images as { image: BlobRef }[]).map((img) => img.image) };
  }
  if (e.$type === 'app.bsky.embed.video') {
    if (e.video === undefined) return { problem: invalid('Missing required key "video"', 'embed'), refs: [] };
    if (e.alt !== undefined && typeof e.alt !== 'string') return { problem: invalid(`Expected string value type (got ${show(e.alt)})`, 'embed.alt'), refs: [] };
    const problem = checkBlobRef(e.video, 'embed.video', 'video/mp4', limits.videoMaxBytes) ?? checkAspectRatio(e.aspectRatio, 'embed.aspectRatio');
    return problem ? { problem, refs: [] } : { refs: [e.video as BlobRef] };
  }
  if (e.$type === 'app.bsky.embed.external') {
    // Lexicon app.bsky.embed.external: uri (format uri), title and description (strings, required), an
    // optional thumb blob (image/*, at most 1,000,000 bytes).
    const ext = (embed as { external?: unknown }).external as Record<string, unknown> | undefined;
    if (ext === undefined) return { problem: invalid('Missing required key "external"', 'embed'), refs: [] };
    if (!ext || typeof ext !== 'object' || Array.isArray(ext)) return { problem: invalid(`Expected object value type (got ${show(ext)})`, 'embed.external'), refs: [] };
    for (const key of ['uri', 'title', 'description']) {
      if (ext[key] === undefined) return { problem: invalid(`Missing required key "${key}"`, 'embed.external'), refs: [] };
      if (typeof ext[key] !== 'string') return { problem: invalid(`Expected string value type (got ${show(ext[key])})`, `embed.external.${key}`), refs: [] };
    }
    if (!/^\w+:(?:\/\/)?[^\s/][^\s]*$/.test(ext['uri'] as string)) return { problem: invalid(`Invalid uri (got ${show(ext['uri'])})`, 'embed.external.uri'), refs: [] };
    if (ext['thumb'] === undefined) return { refs: [] };
    const problem = checkBlobRef(ext['thumb'], 'embed.external.thumb', 'image/*', EXTERNAL_THUMB_MAX_BYTES);
    return problem ? { problem, refs: [] } : { refs: [ext['thumb'] as BlobRef] };
  }
  // Quotes and recordWithMedia are valid on Bluesky; Crier does not send them yet.
  return { problem: { error: 'InvalidRequest', message: `Invalid ${POST} record: embed $type ${show(e.$type)} is not supported by the sandbox` }, refs: [] };
}

/** After validation, at commit: every referenced blob is one this repo uploaded, as it was stored. */
export function resolveBlobRefs(refs: BlobRef[], stored: Map<string, SimBlob>): EmbedProblem | undefined {
  for (const ref of refs) {
    const cid = String(ref.ref?.$link);
    const found = stored.get(cid);
    if (!found) return { error: 'BlobNotFound', message: `Could not find blob: ${cid}` };
    if (found.mimeType !== ref.mimeType) return { error: 'InvalidMimeType', message: `Referenced Mimetype does not match stored blob. Expected: ${found.mimeType}, Got: ${String(ref.mimeType)}` };
    if (found.size !== ref.size) return { error: 'InvalidSize', message: `Referenced Size does not match stored blob. Expected: ${found.size}, Got: ${String(ref.size)}` };
  }
  return undefined;
}
