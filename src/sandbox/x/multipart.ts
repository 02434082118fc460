// A small multipart/form-data reader (RFC 7578) for the simulator's media routes: a segment is at most a
// few MB, so the body arrives buffered (within the route's body limit) and is split here. A plugin such as
// @fastify/multipart is avoided on purpose: the simulator is mounted inside Crier's own app, which may
// register it already, and decorators cannot be registered twice.
export type Multipart = { fields: Record<string, string>; files: Record<string, { data: Buffer; filename?: string; contentType?: string }> };

export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2])!.trim() : undefined;
}

/** Parses a buffered multipart body; null when it is not well formed. */
export function parseMultipart(body: Buffer, boundary: string): Multipart | null {
  const out: Multipart = { fields: {}, files: {} };
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  if (at < 0) return null;
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString() === '--') return out; // closing delimiter
    if (body.subarray(at, at + 2).toString() !== '\r\n') return null;
    at += 2;
    const headEnd = body.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return null;
    const headers = body.subarray(at, headEnd).toString('utf8').split('\r\n');
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headEnd + 4);
    if (next < 0) return null;
    const data = body.subarray(headEnd + 4, next);
    const disposition = headers.find((h) => /^content-disposition:/i.test(h)) ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) return null;
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    const type = headers.find((h) => /^content-type:/i.test(h))?.replace(/^content-type:\s*/i, '');
    if (filename !== undefined || type) out.files[name] = { data: Buffer.from(data), filename, contentType: type };
    else out.fields[name] = data.toString('utf8');
    at = next + 2;
  }
}
