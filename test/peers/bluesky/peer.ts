// The official Bluesky PDS as a test peer: installs it when missing (scripts/install-bluesky-pds.sh, cached),
// starts it on Node 22 (start.mjs: 127.0.0.1 only, scratch TMPDIR) and stops it. `preparePeer` says why the
// PDS cannot run here instead of throwing, so the test can skip with that reason printed.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const run = promisify(execFile);

export type Peer = { ok: true; node: string } | { ok: false; reason: string };
export type RunningPds = { pds: string; plc: string; stop(): Promise<void> };

const installed = () => existsSync(path.join(here, 'node_modules', '@atproto', 'dev-env', 'package.json'));

/** Node 22 (the PDS crashes on 20), the installed PDS, or the reason one of them is missing. */
export async function preparePeer(): Promise<Peer> {
  let node = process.execPath;
  if (Number(process.versions.node.split('.')[0]) < 22) {
    try {
      node = path.join((await run(path.join(root, 'scripts/node22.sh'))).stdout.trim(), 'node');
    } catch (error) {
      return { ok: false, reason: `no Node 22 for the PDS: ${(error as Error).message}` };
    }
  }
  if (!installed()) {
    // Cached: a machine that installed it once pays nothing; the script never fails, it explains.
    const out = await run(path.join(root, 'scripts/install-bluesky-pds.sh'), { timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 }).catch((e: { stderr?: string }) => ({ stderr: e.stderr ?? String(e) }));
    if (!installed()) return { ok: false, reason: `the PDS (@atproto/dev-env) is not installed: ${out.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  }
  return { ok: true, node };
}

/** Starts PLC + PDS (about 7 s); throws with the PDS's own output when it does not come up. */
export async function startPds(node: string, timeoutMs = 90_000): Promise<RunningPds> {
  const child: ChildProcess = spawn(node, [path.join(here, 'start.mjs')], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the PDS did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    readline.createInterface({ input: child.stdout! }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the PDS exited (${code}) before it was ready: ${stderr}`));
    });
  });
  const { pds, plc } = JSON.parse(line) as { pds: string; plc: string };
  return {
    pds,
    plc,
    async stop() {
      child.stdin!.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
