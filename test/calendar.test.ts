// The calendar: posts in a window grouped by local day in the zone asked for (a day boundary in Sydney is
// not one in New York), with each publication's status; drafts and cancelled posts left out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCrier, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier();
});
afterAll(async () => t?.stop());

describe('calendar', () => {
  it('groups posts by local day in the requested zone, with publication statuses, leaving out drafts and cancelled posts', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const at = (iso: string) => ws.post('/v1/posts', { text: `post at ${iso}`, account_ids: [account], scheduled_at: iso });
    const late = (await at('2027-01-11T22:30:00Z')).body.id; // Monday 23:30 in Berlin; Tuesday 09:30 in Sydney
    const early = (await at('2027-01-12T06:00:00Z')).body.id; // Tuesday in both
    const pending = (await ws.post('/v1/posts', { text: 'awaiting approval', account_ids: [account], scheduled_at: '2027-01-12T08:00:00Z', requires_approval: true })).body.id;
    const cancelled = (await at('2027-01-12T07:00:00Z')).body.id;
    await ws.delete(`/v1/posts/${cancelled}`);
    await ws.post('/v1/posts', { text: 'a draft with a time', account_ids: [account], scheduled_at: '2027-01-12T09:00:00Z', draft: true });

    const berlin = (await ws.get('/v1/calendar?from=2027-01-11T00:00:00&to=2027-01-13T00:00:00&timezone=Europe/Berlin')).body;
    expect(berlin.days.map((d: any) => [d.date, d.posts.map((p: any) => [p.id, p.local_time])])).toEqual([
      ['2027-01-11', [[late, '23:30']]],
      ['2027-01-12', [[early, '07:00'], [pending, '09:00']]],
    ]);
    expect(berlin.days[1].posts[1]).toMatchObject({ status: 'pending_approval', publications: [{ account_id: account, platform: 'bluesky', status: 'pending_approval' }] });

    const sydney = (await ws.get('/v1/calendar?from=2027-01-11T00:00:00&to=2027-01-14T00:00:00&timezone=Australia/Sydney')).body;
    expect(sydney.days.map((d: any) => [d.date, d.posts.map((p: any) => p.id)])).toEqual([['2027-01-12', [late, early, pending]]]);
  });

  it('refuses a window that is backwards, too long, or not a time', async () => {
    const ws = await t.workspace();
    for (const [qs, code] of [
      ['from=2027-02-01T00:00:00Z&to=2027-01-01T00:00:00Z', 'VALIDATION_FAILED'],
      ['from=2027-01-01T00:00:00Z&to=2027-06-01T00:00:00Z', 'VALIDATION_FAILED'],
      ['from=yesterday&to=2027-06-01T00:00:00Z', 'SCHEDULED_AT_INVALID'],
      ['from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&timezone=Mars/Base', 'TIMEZONE_INVALID'],
    ]) {
      expect((await ws.get(`/v1/calendar?${qs}`)).body.error.code).toBe(code);
    }
  });
});
