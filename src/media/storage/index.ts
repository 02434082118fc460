// Picks the store from configuration: a local folder (embedded default) or an S3-compatible service.
import type { MediaStorage } from '../types.js';
import { createLocalStorage } from './local.js';
import { createS3Storage, type S3Options } from './s3.js';

export type StorageOptions = { kind: 'local'; dir: string } | ({ kind: 's3' } & S3Options);

export function createStorage(opts: StorageOptions): MediaStorage {
  return opts.kind === 'local' ? createLocalStorage(opts.dir) : createS3Storage(opts);
}
