// The daily quota counter (src/services/platform-quota.ts) on real PostgreSQL: it spends within the day's
// units and refuses beyond them without spending, never lets concurrent spenders overshoot, keeps apps and
// platforms apart, and starts afresh at the reset zone's midnight (Pacific for YouTube), not UTC's.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spendQuota } from '../src/services/platform-quota.js';
import { createTestDatabase, type TestDatabase } from './support/harness.js';

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 20 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const PACIFIC = 'America/Los_Angeles';
const spend = (appKey: string, units: number, now: Date, unitsPerDay = 10_000, platform = 'youtube') => spendQuota(pool, { platform, appKey, units, unitsPerDay, resetTimeZone: PACIFIC, now });

describe('daily quota', () => {
  it('spends until the next call would exceed the day, then refuses without spending, with the reset time', async () => {
    const now = new Date('2026-11-22T20:00:00Z'); // 12:00 in Los Angeles
    expect(await spend('app-a', 1_600, now)).toEqual({ ok: true, used: 1_600, limit: 10_000 });
    for (let i = 0; i < 5; i++) expect((await spend('app-a', 1_600, now)).ok).toBe(true);
    const refused = await spend('app-a', 1_600, now);
    expect(refused).toEqual({ ok: false, used: 9_600, limit: 10_000, resetsAt: new Date('2026-11-23T08:00:00Z') });
    // What still fits is still allowed.
    expect(await spend('app-a', 400, now)).toEqual({ ok: true, used: 10_000, limit: 10_000 });
    expect((await spend('app-a', 1, now)).ok).toBe(false);
    // Another app (project) and another platform count on their own.
    expect((await spend('app-b', 1_600, now)).ok).toBe(true);
    expect((await spend('app-a', 1_600, now, 10_000, 'other')).ok).toBe(true);
    // A call costing more than a whole day is refused outright.
    expect((await spend('app-c', 20_000, now)).ok).toBe(false);
  });

  it("resets at the zone's midnight: 07:59 UTC is still yesterday in Los Angeles, 08:00 is a new day", async () => {
    expect((await spend('app-d', 10_000, new Date('2026-11-23T07:00:00Z'))).ok).toBe(true);
    expect((await spend('app-d', 1, new Date('2026-11-23T07:59:59Z'))).ok).toBe(false);
    expect(await spend('app-d', 1, new Date('2026-11-23T08:00:00Z'))).toEqual({ ok: true, used: 1, limit: 10_000 });
  });

  it('never lets concurrent spenders overshoot the day', async () => {
    const now = new Date('2026-11-22T20:00:00Z');
    const results = await Promise.all(Array.from({ length: 40 }, () => spend('app-e', 1_600, now)));
    expect(results.filter((r) => r.ok)).toHaveLength(6);
    const { rows } = await pool.query(`SELECT used FROM platform_quota WHERE app_key = 'app-e'`);
    expect(rows).toEqual([{ used: 9_600 }]);
  });
});
