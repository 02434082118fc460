// Daily quotas a platform counts per app rather than per account (YouTube: units per Google Cloud
// project, reset at Pacific midnight). Crier counts what it spends before each costly call, so a post is
// refused with a clear error and a retry time instead of failing half-way with the platform's 403.
// The counter is conservative: units are spent when a call is attempted, never given back.
import { DateTime } from 'luxon';
import type { QuotaSpend } from '../connectors/types.js';
import type { Db } from '../db/pool.js';

export type QuotaInput = { platform: string; appKey: string; units: number; unitsPerDay: number; resetTimeZone: string; now: Date };

export async function spendQuota(db: Db, q: QuotaInput): Promise<QuotaSpend> {
  const local = DateTime.fromJSDate(q.now, { zone: q.resetTimeZone });
  const day = local.toISODate()!;
  const resetsAt = local.startOf('day').plus({ days: 1 }).toJSDate();
  // One statement: the row is created or grown only while it stays within the day's units.
  const spent = await db.query<{ used: number }>(
    `INSERT INTO platform_quota (platform, app_key, day, used) SELECT $1::text, $2::text, $3::date, $4::integer WHERE $4::integer <= $5::integer
     ON CONFLICT (platform, app_key, day) DO UPDATE SET used = platform_quota.used + EXCLUDED.used
       WHERE platform_quota.used + EXCLUDED.used <= $5::integer
     RETURNING used`,
    [q.platform, q.appKey, day, q.units, q.unitsPerDay],
  );
  if (spent.rows[0]) return { ok: true, used: spent.rows[0].used, limit: q.unitsPerDay };
  const now = await db.query<{ used: number }>('SELECT used FROM platform_quota WHERE platform = $1 AND app_key = $2 AND day = $3', [q.platform, q.appKey, day]);
  return { ok: false, used: now.rows[0]?.used ?? 0, limit: q.unitsPerDay, resetsAt };
}
