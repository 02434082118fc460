// Queue slots: wall-clock times across DST changes in three zones, and properties of the assignment
// (fast-check): one post per slot, nothing in the past, priorities first, first-in-first-out within a
// priority, and the same answer for the same input in any order.
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { WEEKDAYS, assignSlots, upcomingSlots, type Priority, type Timeslot } from '../src/domain/slots.js';

const take = (g: Generator<number>, n: number) => {
  const out: number[] = [];
  if (n === 0) return out;
  for (const v of g) {
    out.push(v);
    if (out.length === n) break;
  }
  return out;
};
const local = (ms: number, zone: string) => DateTime.fromMillis(ms, { zone }).toFormat("ccc yyyy-MM-dd HH:mm ZZ");
const utc = (iso: string) => Date.parse(iso);

describe('slot times across DST changes', () => {
  it('keeps a 09:00 slot at 09:00 local on both sides of a change (Europe/Berlin, America/New_York, Australia/Sydney)', () => {
    const cases = [
      { zone: 'Europe/Berlin', from: '2027-03-22T00:00:00Z', offsets: ['+01:00', '+02:00'] },
      { zone: 'America/New_York', from: '2027-03-08T12:00:00Z', offsets: ['-05:00', '-04:00'] },
      { zone: 'Australia/Sydney', from: '2027-03-28T12:00:00Z', offsets: ['+11:00', '+10:00'] },
    ];
    for (const c of cases) {
      const slots = take(upcomingSlots([{ day: 'monday', time: '09:00' }], c.zone, utc(c.from)), 2);
      expect(slots.map((s) => local(s, c.zone))).toEqual([
        expect.stringMatching(new RegExp(`^Mon .* 09:00 \\${c.offsets[0]}$`)),
        expect.stringMatching(new RegExp(`^Mon .* 09:00 \\${c.offsets[1]}$`)),
      ]);
      expect(slots[1]! - slots[0]!).not.toBe(7 * 86_400_000); // a week of wall time is not a week of UTC here
    }
  });

  it('moves a slot that does not exist on a spring-forward day to the first valid instant', () => {
    // Berlin, 2027-03-28: 02:00 → 03:00.
    const [berlin] = take(upcomingSlots([{ day: 'sunday', time: '02:30' }], 'Europe/Berlin', utc('2027-03-27T00:00:00Z')), 1);
    expect(local(berlin!, 'Europe/Berlin')).toBe('Sun 2027-03-28 03:00 +02:00');
    // New York, 2027-03-14: 02:00 → 03:00; Sydney, 2026-10-04: 02:00 → 03:00.
    const [ny] = take(upcomingSlots([{ day: 'sunday', time: '02:30' }], 'America/New_York', utc('2027-03-13T00:00:00Z')), 1);
    expect(local(ny!, 'America/New_York')).toBe('Sun 2027-03-14 03:00 -04:00');
    const [syd] = take(upcomingSlots([{ day: 'sunday', time: '02:15' }, { day: 'sunday', time: '02:45' }, { day: 'sunday', time: '10:00' }], 'Australia/Sydney', utc('2026-10-03T00:00:00Z')), 2);
    // Both gap slots fold onto 03:00; it is used once.
    expect([local(syd!, 'Australia/Sydney')]).toEqual(['Sun 2026-10-04 03:00 +11:00']);
  });

  it('uses a slot whose time occurs twice on a fall-back day once, at its first occurrence', () => {
    // Berlin, 2026-10-25: 03:00 → 02:00; New York, 2026-11-01: 02:00 → 01:00; Sydney, 2027-04-04: 03:00 → 02:00.
    const cases = [
      { zone: 'Europe/Berlin', slot: '02:30', from: '2026-10-24T12:00:00Z', want: 'Sun 2026-10-25 02:30 +02:00' },
      { zone: 'America/New_York', slot: '01:30', from: '2026-10-31T12:00:00Z', want: 'Sun 2026-11-01 01:30 -04:00' },
      { zone: 'Australia/Sydney', slot: '02:30', from: '2027-04-03T00:00:00Z', want: 'Sun 2027-04-04 02:30 +11:00' },
    ];
    for (const c of cases) {
      const slots = take(upcomingSlots([{ day: 'sunday', time: c.slot }], c.zone, utc(c.from)), 2);
      expect(local(slots[0]!, c.zone)).toBe(c.want);
      expect(slots[1]! - slots[0]!).toBeGreaterThan(6 * 86_400_000); // the next one is a week later, not an hour
    }
  });
});

const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Sydney'];
const timeslot = fc.record({ day: fc.constantFrom(...WEEKDAYS), time: fc.tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45)).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`) });
const NOW_MIN = utc('2026-01-01T00:00:00Z');
const scenario = fc.record({
  zone: fc.constantFrom(...zones),
  timeslots: fc.array(timeslot, { minLength: 1, maxLength: 8 }),
  now: fc.integer({ min: NOW_MIN, max: utc('2028-12-31T00:00:00Z') }),
  posts: fc.uniqueArray(
    fc.record({ id: fc.string({ minLength: 1, maxLength: 6 }), priority: fc.constantFrom<Priority>('high', 'medium', 'low'), age: fc.integer({ min: 0, max: 90 * 86_400_000 }) }),
    { selector: (p) => p.id, maxLength: 25 },
  ),
});

describe('slot assignment properties', () => {
  it('gives every post its own slot, none in the past, priorities first, oldest first within a priority, deterministically', () => {
    fc.assert(
      fc.property(scenario, fc.infiniteStream(fc.nat()), (s, seeds) => {
        const posts = s.posts.map((p) => ({ id: p.id, priority: p.priority, createdAt: s.now - p.age }));
        const q = { timeslots: s.timeslots as Timeslot[], timezone: s.zone };
        const got = assignSlots(q, posts, s.now);
        expect(got.size).toBe(posts.length);
        const values = [...got.values()];
        expect(new Set(values).size).toBe(values.length);
        for (const v of values) expect(v).toBeGreaterThanOrEqual(s.now);
        const rank = { high: 0, medium: 1, low: 2 };
        for (const a of posts) {
          for (const b of posts) {
            if (rank[a.priority] < rank[b.priority]) expect(got.get(a.id)!).toBeLessThan(got.get(b.id)!);
            if (a.priority === b.priority && a.createdAt < b.createdAt) expect(got.get(a.id)!).toBeLessThan(got.get(b.id)!);
          }
        }
        // Every assigned instant is one of the queue's slot instants.
        const all = new Set(take(upcomingSlots(q.timeslots, q.timezone, s.now), posts.length + 1));
        for (const v of values) expect(all.has(v)).toBe(true);
        // Same answer whatever order the posts come in.
        const shuffled = [...posts].sort(() => ((seeds.next().value as number) % 3) - 1);
        expect(assignSlots(q, shuffled, s.now)).toEqual(got);
      }),
      { numRuns: 300 },
    );
  });

  it('skips slots taken by pinned posts', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 5 }), (s, pinnedCount) => {
        const q = { timeslots: s.timeslots as Timeslot[], timezone: s.zone };
        const taken = new Set(take(upcomingSlots(q.timeslots, q.timezone, s.now), pinnedCount));
        const got = assignSlots(q, s.posts.map((p) => ({ id: p.id, priority: p.priority, createdAt: s.now - p.age })), s.now, taken);
        for (const v of got.values()) expect(taken.has(v)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
