// The Images, Videos and Documents APIs of the LinkedIn simulator (platforms.md §2; learn.microsoft.com
// …/shares/images-api, videos-api, documents-api): initializeUpload registers an asset under an owner the
// caller may post as, and gives upload URLs; the bytes are PUT there (each URL once); a video's parts are
// then finalized with their ETags in order; the asset is processed and becomes AVAILABLE (or
// PROCESSING_FAILED with a reason when its bytes are not what the API takes).
// Simulator choices (LinkedIn's exact answers unknown): an oversize PUT is a 413, a second PUT to the same
// URL, a part of the wrong length, a wrong Content-Type on a video part and an expired URL are 400s; a
// member-owned document's status cannot be read (403), as Postiz reports of member tokens.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

export type AssetKind = 'image' | 'video' | 'document';
export type AssetStatus = 'WAITING_UPLOAD' | 'PROCESSING' | 'AVAILABLE' | 'PROCESSING_FAILED';

export type SimPart = { firstByte: number; lastByte: number; token: string; etag?: string; head?: Buffer; used: boolean };

export type SimAsset = {
  urn: string;
  kind: AssetKind;
  owner: string;
  createdAt: number;
  uploadUrlExpiresAt: number;
  status: AssetStatus;
  processingFailureReason?: string;
  /** When processing ends (videos). */
  availableAt?: number;
  fileSizeBytes?: number;
  uploadToken?: string;
  parts: SimPart[];
  /** What the bytes were, sniffed from the first ones. */
  mimeType?: string;
  size?: number;
  sha256?: string;
};

export type LinkedInSimLimits = {
  /** Images: "about 5 MB" (platforms.md, third-party); 5 MiB here. */
  imageMaxBytes: number;
  /** Video: 75 KB to 500 MB (third-party). */
  videoMinBytes: number;
  videoMaxBytes: number;
  /** Size of a video part in the upload instructions (LinkedIn: 4 MiB, except the last). */
  videoPartBytes: number;
  /** How long a finalized video takes to become AVAILABLE. */
  videoProcessingMs: number;
  /** Documents: ≤ 100 MB (third-party). */
  documentMaxBytes: number;
  /** Commentary, as seen (platforms.md: 3,000, unconfirmed). */
  commentaryMaxChars: number;
};

export const DEFAULT_LIMITS: LinkedInSimLimits = {
  imageMaxBytes: 5 * 1024 * 1024,
  videoMinBytes: 75 * 1024,
  videoMaxBytes: 500 * 1024 * 1024,
  videoPartBytes: 4 * 1024 * 1024,
  videoProcessingMs: 1_000,
  documentMaxBytes: 100 * 1024 * 1024,
  commentaryMaxChars: 3000,
};

const URL_TTL_MS = 24 * 3600_000;

const assetId = () => `D${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

/** A new asset with its upload URL tokens (one per video part, one otherwise). */
export function newAsset(kind: AssetKind, owner: string, limits: LinkedInSimLimits, fileSizeBytes?: number): SimAsset {
  const now = Date.now();
  const parts: SimPart[] = [];
  if (kind === 'video') {
    for (let first = 0; first < fileSizeBytes!; first += limits.videoPartBytes) {
      parts.push({ firstByte: first, lastByte: Math.min(first + limits.videoPartBytes, fileSizeBytes!) - 1, token: randomBytes(18).toString('base64url'), used: false });
    }
  } else {
    parts.push({ firstByte: 0, lastByte: -1, token: randomBytes(18).toString('base64url'), used: false });
  }
  return {
    urn: `urn:li:${kind}:${assetId()}`, kind, owner, createdAt: now, uploadUrlExpiresAt: now + URL_TTL_MS, status: 'WAITING_UPLOAD', parts,
    ...(kind === 'video' ? { fileSizeBytes, uploadToken: randomBytes(12).toString('base64url') } : {}),
  };
}

/** The type the bytes say they are, for the formats these APIs take. */
export function sniff(head: Buffer): string | undefined {
  const ascii = (from: number, to: number) => head.subarray(from, to).toString('latin1');
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'image/png';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'image/gif';
  if (ascii(4, 8) === 'ftyp') return ascii(8, 12) === 'qt  ' ? 'video/quicktime' : 'video/mp4';
  if (ascii(0, 5) === '%PDF-') return 'application/pdf';
  if (ascii(0, 4) === 'PK\x03\x04') return 'application/zip'; // DOCX, PPTX
  if (head[0] === 0xd0 && head[1] === 0xcf && head[2] === 0x11 && head[3] === 0xe0) return 'application/x-ole-storage'; // DOC, PPT
  return undefined;
}

/** Reads a PUT body to its end: size, sha256 and first bytes (nothing else is kept). */
export async function readBody(body: Readable | undefined, max: number): Promise<{ size: number; head: Buffer; sha256: string } | 'too_large'> {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headSize = 0;
  let size = 0;
  for await (const chunk of body ?? []) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > max) continue; // keep draining, so the client reads the answer rather than a reset
    hash.update(buf);
    if (headSize < 64) {
      head.push(buf.subarray(0, 64 - headSize));
      headSize += Math.min(buf.length, 64 - headSize);
    }
  }
  return size > max ? 'too_large' : { size, head: Buffer.concat(head), sha256: hash.digest('hex') };
}

/** Processing of a whole image or document once its bytes arrived. */
export function processWhole(a: SimAsset, got: { size: number; head: Buffer; sha256: string }): void {
  a.size = got.size;
  a.sha256 = got.sha256;
  a.mimeType = sniff(got.head);
  const takes = a.kind === 'image' ? ['image/jpeg', 'image/png', 'image/gif'] : ['application/pdf', 'application/zip', 'application/x-ole-storage'];
  if (got.size === 0 || !a.mimeType || !takes.includes(a.mimeType)) {
    a.status = 'PROCESSING_FAILED';
    a.processingFailureReason = a.kind === 'image' ? 'The uploaded file is not a JPG, PNG or GIF image' : 'The uploaded file is not a PDF, DOC, DOCX, PPT or PPTX document';
  } else {
    a.status = 'AVAILABLE';
  }
}

/** finalizeUpload of a video: every part uploaded, the ETags given in order. Returns the refusal, if any. */
export function finalizeVideo(a: SimAsset, uploadToken: unknown, partIds: unknown, limits: LinkedInSimLimits): string | undefined {
  if (a.status !== 'WAITING_UPLOAD') return `Video ${a.urn} was already finalized`;
  if (uploadToken !== a.uploadToken) return 'uploadToken does not match the one initializeUpload returned';
  if (!Array.isArray(partIds)) return 'uploadedPartIds must be an array of the ETags of the uploaded parts';
  const missing = a.parts.findIndex((p) => !p.used);
  if (missing >= 0) return `Part ${missing + 1} of ${a.parts.length} was never uploaded`;
  if (partIds.length !== a.parts.length) return `uploadedPartIds has ${partIds.length} ETags for ${a.parts.length} parts`;
  const wrong = a.parts.findIndex((p, i) => partIds[i] !== p.etag);
  if (wrong >= 0) return `uploadedPartIds[${wrong}] is not the ETag of part ${wrong + 1}`;
  a.mimeType = sniff(a.parts[0]!.head ?? Buffer.alloc(0));
  a.size = a.fileSizeBytes;
  a.status = 'PROCESSING';
  a.availableAt = Date.now() + limits.videoProcessingMs;
  if (a.mimeType !== 'video/mp4') {
    a.status = 'PROCESSING_FAILED';
    a.processingFailureReason = 'The uploaded file is not an MP4 video';
  } else if ((a.fileSizeBytes ?? 0) < limits.videoMinBytes) {
    a.status = 'PROCESSING_FAILED';
    a.processingFailureReason = `The video is smaller than the minimum of ${limits.videoMinBytes} bytes`;
  }
  return undefined;
}

/** The asset's status now (a video's processing ends at `availableAt`). */
export function statusOf(a: SimAsset): AssetStatus {
  if (a.status === 'PROCESSING' && Date.now() >= (a.availableAt ?? 0)) a.status = 'AVAILABLE';
  return a.status;
}

/** GET /rest/{images|videos|documents}/{urn}. */
export function assetView(a: SimAsset, web: string): Record<string, unknown> {
  const status = statusOf(a);
  const view: Record<string, unknown> = { id: a.urn, owner: a.owner, status };
  if (status === 'PROCESSING_FAILED') view['processingFailureReason'] = a.processingFailureReason;
  if (status === 'AVAILABLE') {
    view['downloadUrl'] = `${web}/_sim/assets/${encodeURIComponent(a.urn)}`;
    view['downloadUrlExpiresAt'] = Date.now() + 3600_000;
  }
  if (a.kind === 'video') view['uploadUrlsExpireAt'] = a.uploadUrlExpiresAt;
  return view;
}
