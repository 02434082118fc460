// Instants are stored in UTC; input needs an offset or an IANA zone; DST gaps and repeated hours follow one
// documented rule, independent of the process time zone.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localToInstant, resolveInstant } from '../src/domain/time.js';
import { startTestCrier, type TestCrier } from './support/harness.js';

const at = (value: string, zone?: string) => {
  const r = resolveInstant(value, zone);
  if (!r.ok) throw new Error(r.problem.code);
  return r.at.toISOString();
};

describe('reading scheduled_at', () => {
  it('accepts Z and numeric offsets', () => {
    expect(at('2027-01-15T09:00:00Z')).toBe('2027-01-15T09:00:00.000Z');
    expect(at('2027-01-15T09:00:00+01:00')).toBe('2027-01-15T08:00:00.000Z');
    expect(at('2027-01-15T09:00-05:30')).toBe('2027-01-15T14:30:00.000Z');
    expect(at('2027-01-15T09:00:00.250+00:00')).toBe('2027-01-15T09:00:00.250Z');
  });

  it('refuses a time without offset unless a zone is given', () => {
    const r = resolveInstant('2027-01-15T09:00:00');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problem.code).toBe('SCHEDULED_AT_NEEDS_OFFSET');
    expect(at('2027-01-15T09:00:00', 'Europe/Berlin')).toBe('2027-01-15T08:00:00.000Z');
  });

  it('refuses impossible dates, offsets and zones', () => {
    for (const bad of ['2027-02-30T10:00:00Z', '2027-01-15 09:00:00Z', '2027-01-15T25:00:00Z', '2027-01-15T09:00:00+24:00', 'tomorrow', '1737000000']) {
      const r = resolveInstant(bad);
      expect(r.ok, bad).toBe(false);
    }
    const zone = resolveInstant('2027-01-15T09:00:00', 'Mars/Olympus');
    expect(!zone.ok && zone.problem.code).toBe('TIMEZONE_INVALID');
  });
});

describe('daylight saving time', () => {
  // For each zone: a local time inside the spring-forward gap moves forward by the gap; a local time in the
  // repeated autumn hour takes its first occurrence; the same wall time a day later keeps its wall time.
  const cases = [
    { zone: 'Europe/Berlin', gap: '2026-03-29T02:30', gapUtc: '2026-03-29T01:30:00.000Z', repeated: '2026-10-25T02:30', repeatedUtc: '2026-10-25T00:30:00.000Z', before: ['2026-03-28T09:00', '2026-03-28T08:00:00.000Z'], after: ['2026-03-30T09:00', '2026-03-30T07:00:00.000Z'] },
    { zone: 'America/New_York', gap: '2026-03-08T02:30', gapUtc: '2026-03-08T07:30:00.000Z', repeated: '2026-11-01T01:30', repeatedUtc: '2026-11-01T05:30:00.000Z', before: ['2026-03-07T09:00', '2026-03-07T14:00:00.000Z'], after: ['2026-03-09T09:00', '2026-03-09T13:00:00.000Z'] },
    { zone: 'Australia/Sydney', gap: '2026-10-04T02:30', gapUtc: '2026-10-03T16:30:00.000Z', repeated: '2026-04-05T02:30', repeatedUtc: '2026-04-04T15:30:00.000Z', before: ['2026-10-03T09:00', '2026-10-02T23:00:00.000Z'], after: ['2026-10-05T09:00', '2026-10-04T22:00:00.000Z'] },
  ];

  it.each(cases)('moves a time in the spring-forward gap forward in $zone', ({ zone, gap, gapUtc }) => {
    expect(at(gap, zone)).toBe(gapUtc);
  });

  it.each(cases)('takes the first of a repeated autumn hour in $zone', ({ zone, repeated, repeatedUtc }) => {
    expect(at(repeated, zone)).toBe(repeatedUtc);
  });

  it.each(cases)('keeps 09:00 local across the change in $zone', ({ zone, before, after }) => {
    expect(at(before[0]!, zone)).toBe(before[1]);
    expect(at(after[0]!, zone)).toBe(after[1]);
  });

  it('gives the same instants whatever the process time zone is', () => {
    const script = `import('./src/domain/time.ts').then(m => { const w = Date.UTC(2026, 9, 25, 2, 30); console.log(new Date(m.localToInstant(w, 'Europe/Berlin')).toISOString(), new Date().getTimezoneOffset()); })`;
    const outputs = ['UTC', 'Pacific/Kiritimati', 'America/Los_Angeles'].map((tz) =>
      execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, TZ: tz }, cwd: process.cwd() }).toString().trim().split(' '),
    );
    expect(new Set(outputs.map((o) => o[0])).size).toBe(1);
    expect(outputs[0]![0]).toBe(new Date(localToInstant(Date.UTC(2026, 9, 25, 2, 30), 'Europe/Berlin')).toISOString());
    expect(new Set(outputs.map((o) => o[1])).size).toBe(3); // the processes really ran in different zones
  });
});

describe('through the API', () => {
  let t: TestCrier;
  beforeAll(async () => {
    t = await startTestCrier();
  });
  afterAll(async () => t?.stop());

  it('stores a local time given with a zone as the UTC instant, across a DST change', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const r = await ws.post('/v1/posts', { text: 'dst', account_ids: [account], scheduled_at: '2027-03-28T02:30:00', timezone: 'Europe/Berlin' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ scheduled_at: '2027-03-28T01:30:00.000Z', timezone: 'Europe/Berlin' });
    const row = (await t.sql.query('SELECT scheduled_at FROM posts WHERE id = $1', [r.body.id])).rows[0];
    expect((row.scheduled_at as Date).toISOString()).toBe('2027-03-28T01:30:00.000Z');
  });

  it('lets an explicit offset win over the zone, which is kept for display', async () => {
    const ws = await t.workspace();
    const r = await ws.post('/v1/posts', { text: 'offset', account_ids: [await ws.account()], scheduled_at: '2027-06-01T09:00:00-04:00', timezone: 'Europe/Berlin' });
    expect(r.body).toMatchObject({ scheduled_at: '2027-06-01T13:00:00.000Z', timezone: 'Europe/Berlin' });
  });

  it('answers every instant in UTC', async () => {
    const ws = await t.workspace();
    const r = await ws.post('/v1/posts', { text: 'utc', account_ids: [await ws.account()], scheduled_at: '2027-06-01T09:00:00+09:00' });
    for (const v of [r.body.scheduled_at, r.body.created_at, r.body.publications[0].next_attempt_at]) expect(v).toMatch(/Z$/);
  });
});
