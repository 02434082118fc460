// Instants come in only with an offset, or as a local wall-clock time plus an IANA zone. The process
// time zone is never consulted.
import { DateTime, IANAZone } from 'luxon';

export type TimeProblem = { code: 'SCHEDULED_AT_INVALID' | 'SCHEDULED_AT_NEEDS_OFFSET' | 'TIMEZONE_INVALID'; message: string };

const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/i;
const LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/;

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/**
 * Resolves `scheduled_at` (+ optional `timezone`) to a UTC instant.
 * A local time in a DST gap moves forward by the gap (02:30 on a spring-forward day becomes 03:30);
 * a local time that occurs twice takes the earlier instant. This is Temporal's "compatible" rule.
 */
export function resolveInstant(value: string, timezone?: string): { ok: true; at: Date } | { ok: false; problem: TimeProblem } {
  if (timezone !== undefined && !isValidTimeZone(timezone)) {
    return { ok: false, problem: { code: 'TIMEZONE_INVALID', message: `"${timezone}" is not an IANA time zone (e.g. "Europe/Berlin")` } };
  }
  if (WITH_OFFSET.test(value)) {
    const dt = DateTime.fromISO(value, { setZone: true });
    if (!dt.isValid) return invalid(value);
    return { ok: true, at: dt.toJSDate() };
  }
  if (LOCAL.test(value)) {
    if (!timezone) {
      return {
        ok: false,
        problem: {
          code: 'SCHEDULED_AT_NEEDS_OFFSET',
          message: `"${value}" has no UTC offset: add one (e.g. "${value}Z" or "${value}+02:00") or pass "timezone"`,
        },
      };
    }
    const wall = DateTime.fromISO(value, { zone: 'UTC' });
    if (!wall.isValid) return invalid(value);
    return { ok: true, at: new Date(localToInstant(wall.toMillis(), timezone)) };
  }
  return invalid(value);
}

/**
 * `wallMs` is the wall-clock time written as if it were UTC. Luxon's own choice between the two
 * instants of a repeated hour differs by zone, so both candidates are computed here explicitly.
 */
export function localToInstant(wallMs: number, zone: string): number {
  const DAY = 86_400_000;
  const offsetAt = (ms: number) => DateTime.fromMillis(ms, { zone }).offset * 60_000;
  const before = offsetAt(wallMs - DAY);
  const after = offsetAt(wallMs + DAY);
  const matches = [...new Set([before, after])]
    .map((offset) => wallMs - offset)
    .filter((instant) => instant + offsetAt(instant) === wallMs)
    .sort((a, b) => a - b);
  if (matches.length > 0) return matches[0]!; // a repeated hour takes its first occurrence
  return wallMs - before; // in a gap: keep the offset from before it, which lands after the gap
}

function invalid(value: string): { ok: false; problem: TimeProblem } {
  return {
    ok: false,
    problem: { code: 'SCHEDULED_AT_INVALID', message: `"${value}" is not an RFC 3339 date-time such as "2026-12-01T09:00:00+01:00"` },
  };
}
