// A real HTTP receiver for webhook tests: records every request, and answers each path as told (a status,
// a delay, a redirect).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Received = { path: string; headers: Record<string, string>; body: string; at: number };
export type Behaviour = { status?: number; delayMs?: number; body?: string; location?: string };

export type Receiver = {
  url: string;
  port: number;
  received: Received[];
  /** How a path answers from now on (default 200 "ok"); a list is used one entry per request, the last one repeating. */
  answer(path: string, behaviour: Behaviour | Behaviour[]): void;
  on(path: string): Received[];
  close(): Promise<void>;
};

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const behaviours = new Map<string, Behaviour[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      received.push({ path, headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString(), at: Date.now() });
      const list = behaviours.get(path) ?? [];
      const b = (list.length > 1 ? list.shift() : list[0]) ?? {};
      const reply = () => {
        if (res.destroyed) return;
        res.writeHead(b.status ?? 200, b.location ? { location: b.location } : { 'content-type': 'text/plain' });
        res.end(b.body ?? 'ok');
      };
      if (b.delayMs) setTimeout(reply, b.delayMs);
      else reply();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    answer: (path, behaviour) => void behaviours.set(path, Array.isArray(behaviour) ? [...behaviour] : [behaviour]),
    on: (path) => received.filter((r) => r.path === path),
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
