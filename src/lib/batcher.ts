// Groups items that arrive close together into one write: a batch is written when it reaches `maxItems`
// or `maxWaitMs` after its first item, whichever comes first; one write at a time, so batches never
// contend for the same rows. `add` resolves (or rejects) when the batch holding the item has been
// written, so callers keep their slot until their result is durable.
export type Batcher<T> = { add(item: T): Promise<void> };

export function createBatcher<T>(write: (items: T[]) => Promise<void>, opts: { maxItems: number; maxWaitMs: number }): Batcher<T> {
  let items: T[] = [];
  let waiters: { resolve(): void; reject(e: unknown): void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing = false;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (writing || items.length === 0) return;
    const batch = items;
    const done = waiters;
    items = [];
    waiters = [];
    writing = true;
    write(batch)
      .then(
        () => done.forEach((w) => w.resolve()),
        (e) => done.forEach((w) => w.reject(e)),
      )
      .finally(() => {
        writing = false;
        flush(); // what arrived meanwhile
      });
  };
  return {
    add(item) {
      return new Promise<void>((resolve, reject) => {
        items.push(item);
        waiters.push({ resolve, reject });
        if (items.length >= opts.maxItems) flush();
        else timer ??= setTimeout(flush, opts.maxWaitMs);
      });
    },
  };
}
