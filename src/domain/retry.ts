// When to try again. Pure: the worker passes attempt counts and a random source.
export type RetryPolicy = { maxAttempts: number; baseMs: number; maxMs: number };

/**
 * Exponential backoff with "equal jitter" (a uniform delay in [base·2^(n-1)/2, base·2^(n-1)], capped),
 * never sooner than the platform's Retry-After.
 */
export function nextRetryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number, random = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}

export function canRetry(policy: RetryPolicy, attempt: number): boolean {
  return attempt < policy.maxAttempts;
}
