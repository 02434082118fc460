// A real S3-compatible server that checks signatures, for the S3 store's tests: OpenStack Swift with its
// s3api middleware (Debian packages; multipart uploads go through its static-large-object middleware), one node on loopback in a private folder, plus the memcached that
// tempauth needs. Nothing runs until a test starts it; stop() ends every process and removes the folder.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export type Swift = { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; bucket: string; stop(): Promise<void> };

const BINARIES = ['swift-ring-builder', 'swift-proxy-server', 'swift-account-server', 'swift-container-server', 'swift-object-server', 'memcached'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startSwift(): Promise<Swift> {
  const missing = BINARIES.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  if (missing.length > 0) throw new Error(`Swift is not installed (missing ${missing.join(', ')}): run scripts/install-system-deps.sh`);
  const dir = await mkdtemp(path.join(tmpdir(), 'crier-swift-'));
  const etc = path.join(dir, 'etc');
  await mkdir(path.join(dir, 'srv', 'd1'), { recursive: true });
  await mkdir(etc);
  const [account, container, object, proxy, cache] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await writeFile(path.join(etc, 'swift.conf'), '[swift-hash]\nswift_hash_path_suffix = crier-test\n[storage-policy:0]\nname = gold\ndefault = yes\n');
    const common = (port: number) => `[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = ${port}\nworkers = 0\nswift_dir = ${etc}\nlog_address = /nonexistent\n`;
    for (const [name, port] of [['account', account], ['container', container], ['object', object]] as const) {
      const builder = path.join(etc, `${name}.builder`);
      for (const args of [['create', '1', '1', '1'], ['add', `r1z1-127.0.0.1:${port}/d1`, '1'], ['rebalance']]) {
        const r = spawnSync('swift-ring-builder', [builder, ...args], { encoding: 'utf8' });
        if (r.status !== 0 && !(args[0] === 'rebalance' && r.status === 1)) throw new Error(`swift-ring-builder ${args.join(' ')}: ${r.stderr || r.stdout}`);
      }
      await writeFile(
        path.join(etc, `${name}-server.conf`),
        `${common(port)}devices = ${path.join(dir, 'srv')}\nmount_check = false\ndisable_fallocate = true\n[pipeline:main]\npipeline = ${name}-server\n[app:${name}-server]\nuse = egg:swift#${name}\n`,
      );
    }
    await writeFile(
      path.join(etc, 'proxy-server.conf'),
      `${common(proxy)}[pipeline:main]\npipeline = catch_errors cache s3api tempauth slo proxy-server\n` +
        `[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n` +
        `[filter:catch_errors]\nuse = egg:swift#catch_errors\n[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:${cache}\n` +
        `[filter:s3api]\nuse = egg:swift#s3api\n[filter:slo]\nuse = egg:swift#slo\n[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n`,
    );
    const env = { ...process.env, SWIFT_CONF_FILE: path.join(etc, 'swift.conf') };
    children.push(spawn('memcached', ['-u', 'root', '-l', '127.0.0.1', '-p', String(cache), '-U', '0'], { stdio: 'ignore' }));
    for (const name of ['account', 'container', 'object', 'proxy']) {
      children.push(spawn(`swift-${name}-server`, [path.join(etc, `${name}-server.conf`)], { stdio: 'ignore', env }));
    }
    const swift = { endpoint: `http://127.0.0.1:${proxy}`, region: 'us-east-1', accessKeyId: 'test:tester', secretAccessKey: 'testing', bucket: 'crier-test', stop };
    await createBucketWhenUp(swift);
    return swift;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls until the proxy answers S3 and the bucket exists (about 2–5 s on this machine). */
async function createBucketWhenUp(s: Omit<Swift, 'stop'>): Promise<void> {
  const client = new S3Client({ region: s.region, endpoint: s.endpoint, forcePathStyle: true, credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: s.bucket }));
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`Swift did not come up: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
