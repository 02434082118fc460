// Queue slots: weekly wall-clock times in an IANA zone, and the deterministic assignment of queued posts
// to them. Pure: the caller supplies "now" and the posts.
//
// Wall-clock rules (tested for Europe/Berlin, America/New_York, Australia/Sydney): a 09:00 slot stays 09:00
// local across DST changes; a slot time that does not exist on a spring-forward day (02:30) moves to the
// first valid instant after the gap (03:00); one that occurs twice on a fall-back day is used once (its
// first occurrence).
import { DateTime } from 'luxon';
import { localToInstant } from './time.js';

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export type Timeslot = { day: Weekday; time: string };
export type Priority = 'high' | 'medium' | 'low';
const PRIORITY_RANK: Record<Priority, number> = { high: 0, medium: 1, low: 2 };

/** How far ahead slots are looked for; a queue needing more is refused rather than looping forever. */
export const HORIZON_DAYS = 5 * 366;

/** The first instant whose wall-clock time in `zone` is `wallMs` (written as UTC), or the end of the gap it falls in. */
export function slotInstant(wallMs: number, zone: string): number {
  const at = localToInstant(wallMs, zone);
  const wallOf = (ms: number) => ms + DateTime.fromMillis(ms, { zone }).offset * 60_000;
  if (wallOf(at) === wallMs) return at;
  // In a gap: localToInstant kept the offset from before it (landing as far past the gap as the slot was
  // into it); the first valid instant is the transition itself. Search for it between the two candidates.
  const after = DateTime.fromMillis(at, { zone }).offset * 60_000;
  let lo = wallMs - after; // before the transition
  let hi = at; // after it
  while (hi - lo > 1_000) {
    const mid = Math.floor((lo + hi) / 2);
    if (DateTime.fromMillis(mid, { zone }).offset * 60_000 === after) hi = mid;
    else lo = mid;
  }
  return Math.ceil(hi / 60_000) * 60_000;
}

/** Slot instants at or after `fromMs`, in order, each once (a repeated wall time yields one instant). */
export function* upcomingSlots(timeslots: Timeslot[], zone: string, fromMs: number): Generator<number> {
  if (timeslots.length === 0) return;
  const byDay = new Map<number, number[]>();
  for (const t of timeslots) {
    const [h, m] = t.time.split(':').map(Number) as [number, number];
    const weekday = WEEKDAYS.indexOf(t.day) + 1; // Luxon: Monday = 1
    byDay.set(weekday, [...(byDay.get(weekday) ?? []), h * 60 + m].sort((a, b) => a - b));
  }
  const start = DateTime.fromMillis(fromMs, { zone }).startOf('day');
  let last = -Infinity;
  for (let d = 0; d < HORIZON_DAYS; d++) {
    const day = start.plus({ days: d });
    const minutes = byDay.get(day.weekday);
    if (!minutes) continue;
    const dayWall = Date.UTC(day.year, day.month - 1, day.day);
    for (const m of [...new Set(minutes)]) {
      const at = slotInstant(dayWall + m * 60_000, zone);
      // A gap can fold two slots onto one instant (02:15 and 02:45 → 03:00): the later one is skipped.
      if (at < fromMs || at <= last) continue;
      last = at;
      yield at;
    }
  }
}

export type QueuedPost = { id: string; priority: Priority; createdAt: number };

/**
 * Assigns each post a slot: higher priority first, oldest first within a priority (ties by id), each to
 * the earliest free slot at or after both `now` and its creation. `taken` slots (pinned posts) are skipped.
 * The same input always gives the same answer. Throws when the slots run out within the horizon.
 */
export function assignSlots(q: { timeslots: Timeslot[]; timezone: string }, posts: QueuedPost[], now: number, taken: Set<number> = new Set()): Map<string, number> {
  const order = [...posts].sort((a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const out = new Map<string, number>();
  if (order.length === 0) return out;
  const from = Math.min(...order.map((p) => Math.max(now, p.createdAt)));
  const free: number[] = [];
  const slots = upcomingSlots(q.timeslots, q.timezone, from);
  const nextFree = (notBefore: number): number => {
    // Free slots skipped earlier (too early for an older post) are reused by a later post when they fit.
    const i = free.findIndex((s) => s >= notBefore);
    if (i >= 0) return free.splice(i, 1)[0]!;
    // next() by hand: leaving a for-of would close the generator for the following posts.
    for (let n = slots.next(); !n.done; n = slots.next()) {
      if (taken.has(n.value)) continue;
      if (n.value >= notBefore) return n.value;
      free.push(n.value);
    }
    throw new RangeError(`the queue has no free slot within ${HORIZON_DAYS} days`);
  };
  for (const p of order) out.set(p.id, nextFree(Math.max(now, p.createdAt)));
  return out;
}

/** A stored jitter never moves a post before now (or before its slot's day is reachable). */
export function withJitter(slotMs: number, jitterMs: number, now: number): number {
  return Math.max(now, slotMs + jitterMs);
}

