export interface ProgressStreamOptions {
  /** Sends one batch; resolves to false when Amistio wants no more. */
  send(lines: string[]): Promise<boolean>;
  /** How often a batch goes out at most (default 2 s). */
  intervalMs?: number;
  maxLinesPerBatch?: number;
  onError?(error: unknown): void;
}

/**
 * Streams output lines to Amistio in small batches, at most one request in flight and one per
 * interval. Lines that arrive faster than that are dropped, keeping the newest, and the next batch
 * says how many were skipped: progress is a view, the full output stays in the job's log.
 */
export function createProgressStream(options: ProgressStreamOptions) {
  const intervalMs = options.intervalMs ?? 2_000;
  const maxLines = options.maxLinesPerBatch ?? 50;
  let pending: string[] = [];
  let skipped = 0;
  let open = true;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  function schedule(): void {
    if (timer || !open) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, intervalMs);
    timer.unref();
  }

  async function flush(): Promise<void> {
    if (inFlight) return inFlight;
    if (!open || pending.length === 0) return;
    const batch = skipped > 0 ? [`[${skipped} lines not sent]`, ...pending] : pending;
    pending = [];
    skipped = 0;
    inFlight = options
      .send(batch)
      .then((more) => {
        if (!more) open = false;
      })
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        inFlight = undefined;
        if (pending.length > 0) schedule();
      });
    return inFlight;
  }

  return {
    push(line: string): void {
      if (!open) return;
      pending.push(line);
      if (pending.length > maxLines - 1) {
        skipped += pending.length - (maxLines - 1);
        pending = pending.slice(-(maxLines - 1));
      }
      schedule();
    },
    /** Sends what is pending and stops. */
    async close(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      await inFlight;
      await flush();
      open = false;
    },
  };
}
