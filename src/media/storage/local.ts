// The local store (embedded mode): files under one folder. Writes go to a temporary file and are renamed
// into place, so a reader never sees half a file; keys are checked so none can escape the folder.
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MediaStorage } from '../types.js';

const SEGMENT = /^[A-Za-z0-9._-]+$/;

export function createLocalStorage(rootDir: string): MediaStorage {
  const root = path.resolve(rootDir);
  const fileOf = (key: string): string => {
    const segments = key.split('/');
    if (!key || segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) throw new Error(`invalid storage key "${key}"`);
    const file = path.join(root, ...segments);
    if (!file.startsWith(root + path.sep)) throw new Error(`invalid storage key "${key}"`);
    return file;
  };
  const noMultipart = () => {
    throw new Error('the local store has no multipart uploads; clients upload to Crier directly');
  };
  return {
    kind: 'local',
    async put(key, body) {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${randomBytes(6).toString('hex')}.part`;
      try {
        await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(tmp));
        await rename(tmp, file);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
    },
    async get(key, range) {
      const file = fileOf(key);
      await stat(file); // a missing file fails here, not later inside the stream
      return createReadStream(file, range ? { start: range.start, end: range.end } : undefined);
    },
    async head(key) {
      try {
        const s = await stat(fileOf(key));
        return { size: s.size };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async delete(key) {
      await rm(fileOf(key), { force: true });
    },
    async download(key, filePath) {
      await copyFile(fileOf(key), filePath);
    },
    presignPut: async () => null,
    createMultipart: async () => null,
    presignPart: async () => noMultipart(),
    completeMultipart: async () => noMultipart(),
    abortMultipart: async () => undefined,
    presignGet: async () => null,
  };
}
