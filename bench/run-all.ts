// `npm run bench [-- --quick]`: the benchmarks one after another, each in its own process (so one's
// heap and pools never affect the next), passing the same flags. Stops at the first failure.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
for (const name of ['create-posts', 'schedule-burst', 'memory', 'media', 'webhooks', 'calendar']) {
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, `${name}.ts`), ...process.argv.slice(2)], { stdio: 'inherit', cwd: path.resolve(here, '..') });
  if (r.status !== 0) {
    console.error(`${name} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}
