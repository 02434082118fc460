// Diagnostic, not a benchmark: counts and times every SQL statement this process sends (pg.Client.query),
// printed to stderr at exit, slowest total first. Use: node --import tsx --import ./bench/sql-trace.ts bench/<x>.ts
import pg from 'pg';
const counts = new Map<string, { n: number; ms: number; rows: number }>();
const orig = pg.Client.prototype.query as any;
(pg.Client.prototype as any).query = function (this: any, text: any, values: any, cb: any) {
  const sql = typeof text === 'string' ? text : text?.text ?? '';
  const key = sql.replace(/\s+/g, ' ').trim().slice(0, 60);
  const t0 = performance.now();
  const r = orig.call(this, text, values, cb);
  if (r && typeof r.then === 'function') {
    r.then((res: any) => {
      const c = counts.get(key) ?? { n: 0, ms: 0, rows: 0 };
      c.n++; c.ms += performance.now() - t0; c.rows += res?.rowCount ?? 0;
      counts.set(key, c);
    }, () => undefined);
  }
  return r;
};
process.on('exit', () => {
  const list = [...counts.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30);
  for (const [k, v] of list) console.error(`${String(v.n).padStart(7)} ${v.ms.toFixed(0).padStart(8)}ms ${(v.ms / v.n).toFixed(2).padStart(7)}ms/q rows/q ${(v.rows / v.n).toFixed(1).padStart(6)}  ${k}`);
});
