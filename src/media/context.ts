// What the media pipeline needs at run time, built once by the composition root.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { UrlSigner } from './signing.js';
import type { MediaStorage } from './types.js';

export type MediaServices = {
  storage: MediaStorage;
  signer: UrlSigner;
  /** Scratch folder for probing and transcoding (files are removed when done). */
  tmpDir: string;
  /** ffmpeg/ffprobe on PATH: without them videos are refused with a clear message, images still work. */
  ffmpeg: { available: boolean; message?: string };
};

/** A fresh path in the scratch folder, removed after `fn` whatever happens. */
export async function withTempFile<T>(media: Pick<MediaServices, 'tmpDir'>, fn: (file: string) => Promise<T>): Promise<T> {
  await mkdir(media.tmpDir, { recursive: true });
  const file = path.join(media.tmpDir, `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`);
  try {
    return await fn(file);
  } finally {
    await rm(file, { force: true });
  }
}

export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
