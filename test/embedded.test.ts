// The README's first command: Crier without DATABASE_URL runs on embedded PostgreSQL in its data folder,
// prints where to go, survives restarts, a SIGKILL and a machine crash, and keeps one process per data folder.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/db/embedded.js';
import { spawnCrier, type Child } from './support/child.js';
import { client, settled, waitFor } from './support/harness.js';

let dataDir: string;
let port: number;
const running: Child[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'crier-embedded-'));
  await chmod(dataDir, 0o755); // as root, PostgreSQL runs as the postgres user and must enter it
  port = await freePort();
});
afterAll(async () => {
  for (const c of running) await c.kill('SIGKILL');
  await stopOrphan();
  await rm(dataDir, { recursive: true, force: true });
});

const env = () => ({ CRIER_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' });
const base = () => `http://127.0.0.1:${port}`;

function start(args: string[] = ['all'], extra: Record<string, string> = {}): Child {
  const c = spawnCrier(args, { ...env(), ...extra });
  running.push(c);
  return c;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function postmasterPid(): number | undefined {
  const file = path.join(dataDir, 'postgres', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0]!, 10);
  return alive(pid) ? pid : undefined;
}

/** A PostgreSQL server left behind by a failed test: stop it before its folder is removed. */
async function stopOrphan() {
  const pid = postmasterPid();
  if (!pid) return;
  process.kill(pid, 'SIGINT');
  await waitFor(async () => (alive(pid) ? undefined : true), 15_000, 'the orphaned PostgreSQL to stop').catch(() => undefined);
}

async function ready() {
  await waitFor(async () => ((await fetch(`${base()}/health/ready`)).status === 200 ? true : undefined), 30_000, 'ready');
}

describe('npm start without DATABASE_URL', () => {
  let adminKey: string;
  let workspaceKey: string;
  let postId: string;

  it('says the port is taken when it is, and keeps the operator key for the start that succeeds', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const c = start();
      expect(await c.exited).toBe(1);
      expect(c.output()).toMatch(/port in use: .*Set PORT to another port/);
      expect(c.output()).not.toMatch(/crier_admin_/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    expect(postmasterPid()).toBeUndefined(); // a failed start stops its database too
    // The next test's start is the first that succeeds: it must print the operator key.
  }, 60_000);

  it('starts on embedded PostgreSQL, prints where to go and the operator key once, and publishes', async () => {
    const c = start();
    await c.waitFor(/Sandbox\s+on/);
    const out = c.output();
    expect(out).toContain(`API            ${base()}/v1`);
    expect(out).toContain(`API reference  ${base()}/v1/reference`);
    expect(out).toContain(`embedded PostgreSQL in ${dataDir}/postgres`);
    adminKey = out.match(/^\s+(crier_admin_[A-Za-z0-9]{43})$/m)![1]!;
    await ready();

    const operator = client(base(), adminKey);
    const ws = await operator.post('/v1/workspaces', { name: 'embedded' });
    workspaceKey = (await operator.post(`/v1/workspaces/${ws.body.id}/api_keys`, { name: 'k' })).body.key;
    const api = client(base(), workspaceKey);
    const account = await api.post('/v1/accounts', { platform: 'bluesky', sandbox: true, username: 'embedded' });
    expect(account.status).toBe(201);
    const post = await api.post('/v1/posts', { text: 'from embedded PostgreSQL', account_ids: [account.body.id] });
    postId = post.body.id;
    const done = await settled(api, postId);
    expect(done.publications[0].url).toContain(`${base()}/sandbox/bluesky/profile/`);
    expect((await fetch(done.publications[0].url)).status).toBe(200);

    await c.kill('SIGTERM');
    expect(c.proc.exitCode).toBe(0);
    expect(postmasterPid()).toBeUndefined(); // a clean stop stops PostgreSQL too
  }, 90_000);

  it('restarts with its data and does not print the operator key again', async () => {
    const c = start();
    await c.waitFor(/Sandbox\s+on/);
    expect(c.output()).not.toMatch(/crier_admin_[A-Za-z0-9]{43}/);
    expect(c.output()).toContain('printed on the first start');
    await ready();
    expect((await client(base(), adminKey).get('/v1/workspaces')).status).toBe(200);
    expect((await client(base(), workspaceKey).get(`/v1/posts/${postId}`)).body.status).toBe('published');
  }, 60_000);

  it('refuses a second process on the same data folder with a clear message', async () => {
    const other = spawnCrier(['all'], { ...env(), PORT: String(await freePort()) });
    running.push(other);
    expect(await other.exited).toBe(1);
    expect(other.output()).toMatch(/another Crier process \(pid \d+\) is using the data folder/);
    expect((await fetch(`${base()}/health/live`)).status).toBe(200); // the first one is unharmed
  }, 60_000);

  it('recovers the PostgreSQL server orphaned by a SIGKILL', async () => {
    const c = running.find((r) => r.proc.exitCode === null && r.proc.signalCode === null)!;
    await c.kill('SIGKILL');
    const orphan = postmasterPid();
    expect(orphan).toBeDefined(); // the killed process could not stop its database
    const next = start(['all'], { LOG_LEVEL: 'info' });
    await next.waitFor(/Sandbox\s+on/);
    await ready();
    expect(next.output()).toContain(`stopping a PostgreSQL server (pid ${orphan}) left running by an earlier process`);
    expect(alive(orphan!)).toBe(false);
    expect(postmasterPid()).not.toBe(orphan);
    expect((await client(base(), workspaceKey).get(`/v1/posts/${postId}`)).body.status).toBe('published');
    await next.kill('SIGTERM');
  }, 60_000);

  it('rotates the operator key with admin-key --rotate', async () => {
    const rotate = start(['admin-key', '--rotate']);
    expect(await rotate.exited).toBe(0);
    const fresh = rotate.output().match(/(crier_admin_[A-Za-z0-9]{43})/)![1]!;
    const c = start();
    await c.waitFor(/Sandbox\s+on/);
    expect((await client(base(), fresh).get('/v1/workspaces')).status).toBe(200);
    expect((await client(base(), adminKey).get('/v1/workspaces')).status).toBe(401);
    adminKey = fresh;
    await c.kill('SIGTERM');
  }, 60_000);

  it('starts after its machine went down, leaving pid files whose pids now belong to other processes, and signals none of them', async () => {
    // The two pid files a running Crier keeps: its own (one process per folder) and PostgreSQL's.
    const ownerFile = path.join(dataDir, 'crier.pid');
    const serverFile = path.join(dataDir, 'postgres', 'postmaster.pid');
    const c = start();
    await c.waitFor(/Sandbox\s+on/);
    await ready();
    const ownerText = await readFile(ownerFile, 'utf8');
    const serverText = await readFile(serverFile, 'utf8');
    await c.kill('SIGTERM');
    expect(existsSync(ownerFile) || existsSync(serverFile)).toBe(false);

    // A power loss leaves both files behind; after the reboot their pids are other programs'.
    const bystanders = [0, 1].map(() => spawn('sleep', ['120'], { stdio: 'ignore' }));
    try {
      const [a, b] = bystanders.map((p) => p.pid!);
      await writeFile(ownerFile, ownerText.replace(/^\d+/, String(a)));
      await writeFile(serverFile, serverText.replace(/^\d+/, String(b)));

      const next = start(['all'], { LOG_LEVEL: 'info' });
      await next.waitFor(/Sandbox\s+on/);
      await ready();
      expect(bystanders.map((p) => [p.exitCode, p.signalCode])).toEqual([
        [null, null],
        [null, null],
      ]);
      expect(next.output()).not.toContain('stopping a PostgreSQL server');
      expect(next.output()).toContain(`pid ${b} is not a PostgreSQL server of this folder any more`);
      expect((await client(base(), adminKey).get('/v1/workspaces')).status).toBe(200);
      expect((await client(base(), workspaceKey).get(`/v1/posts/${postId}`)).body.status).toBe('published');
      await next.kill('SIGTERM');
      expect(next.proc.exitCode).toBe(0);
    } finally {
      for (const p of bystanders) p.kill('SIGKILL');
    }
  }, 60_000);
});
