import { isValidTimeZone, resolveInstant } from '../domain/time.js';
import { ApiError } from '../http/errors.js';

export const MAX_SCHEDULE_AHEAD_DAYS = 730;

/** Reads `scheduled_at` (+ `timezone`) into a future UTC instant, or throws the documented 400. */
export function resolveScheduledAt(scheduledAt: string, timezone: string | undefined, now: Date): Date {
  const resolved = resolveInstant(scheduledAt, timezone);
  if (!resolved.ok) {
    throw new ApiError(resolved.problem.code, resolved.problem.message, [{ field: resolved.problem.code === 'TIMEZONE_INVALID' ? 'body.timezone' : 'body.scheduled_at', message: resolved.problem.message }]);
  }
  if (resolved.at.getTime() < now.getTime()) {
    throw new ApiError('SCHEDULED_AT_IN_PAST', `scheduled_at ${resolved.at.toISOString()} is in the past (now is ${now.toISOString()}); omit it to publish now`, [{ field: 'body.scheduled_at', message: 'in the past' }]);
  }
  if (resolved.at.getTime() > now.getTime() + MAX_SCHEDULE_AHEAD_DAYS * 86_400_000) {
    throw new ApiError('VALIDATION_FAILED', `scheduled_at is more than ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`, [{ field: 'body.scheduled_at', message: 'too far ahead' }]);
  }
  return resolved.at;
}

export function checkTimezone(timezone: string | undefined): string | null {
  if (timezone === undefined) return null;
  if (!isValidTimeZone(timezone)) {
    throw new ApiError('TIMEZONE_INVALID', `"${timezone}" is not an IANA time zone (e.g. "Europe/Berlin")`, [{ field: 'body.timezone', message: 'unknown time zone' }]);
  }
  return timezone;
}
