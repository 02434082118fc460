// Any S3-compatible store through the AWS SDK. Checksums only when required: SDK ≥ 3.729 otherwise signs
// an x-amz-checksum-crc32 of an empty body into presigned PUT URLs, which real S3, R2 and MinIO reject.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { MediaStorage } from '../types.js';

export type S3Options = { endpoint?: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: boolean };

export function createS3Storage(o: S3Options): MediaStorage {
  const s3 = new S3Client({
    region: o.region,
    endpoint: o.endpoint,
    forcePathStyle: o.forcePathStyle,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = o.bucket;
  const body = async (key: string, range?: { start: number; end?: number }) => {
    const r = await s3.send(new GetObjectCommand({ Bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}) }));
    return r.Body as Readable;
  };
  return {
    kind: 's3',
    async put(key, data, opts) {
      if (Buffer.isBuffer(data)) {
        await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: data, ContentType: opts.contentType }));
        return;
      }
      // Streams of any length go up in parts, so nothing is buffered whole.
      await new Upload({ client: s3, params: { Bucket, Key: key, Body: data, ContentType: opts.contentType }, partSize: 16 * 1024 * 1024, queueSize: 2 }).done();
    },
    get: body,
    async head(key) {
      try {
        const r = await s3.send(new HeadObjectCommand({ Bucket, Key: key }));
        return { size: Number(r.ContentLength ?? 0), contentType: r.ContentType };
      } catch (error) {
        const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) return null;
        throw error;
      }
    },
    async delete(key) {
      await s3.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },
    async download(key, filePath) {
      await pipeline(await body(key), createWriteStream(filePath));
    },
    async presignPut(key, opts) {
      return getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: key, ContentType: opts.contentType, ContentLength: opts.size }), {
        expiresIn: opts.expiresInSec,
        signableHeaders: new Set(['content-type', 'content-length']),
      });
    },
    async createMultipart(key, opts) {
      const r = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType: opts.contentType }));
      return r.UploadId ?? null;
    },
    presignPart: (key, uploadId, partNumber, expiresInSec) => getSignedUrl(s3, new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: partNumber }), { expiresIn: expiresInSec }),
    async completeMultipart(key, uploadId, parts) {
      await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) } }));
    },
    async abortMultipart(key, uploadId) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }));
    },
    presignGet: (key, expiresInSec) => getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: key }), { expiresIn: expiresInSec }),
  };
}
