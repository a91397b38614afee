import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import { purgeExpiredData } from "./purge-expired-data.ts";

export interface StartRetentionOptions {
  db: Db;
  logger: Logger;
  retentionDays: number;
  /** How often to purge; hourly keeps each run small. */
  intervalMs?: number;
  now?: () => Date;
}

export interface RetentionTimer {
  /** Cancels the next run and waits for one in progress. */
  stop(): Promise<void>;
}

/** Purges expired data now and then periodically, until stopped. Several processes may run it: deletes are idempotent. */
export function startRetention(options: StartRetentionOptions): RetentionTimer {
  const intervalMs = options.intervalMs ?? 60 * 60 * 1000;
  const now = options.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const run = () => {
    running = purgeExpiredData(options.db, { retentionDays: options.retentionDays, now })
      .then((result) => {
        if (result.runEvents + result.jobs + result.webhookDeliveries > 0) {
          options.logger.info(
            { ...result, retentionDays: options.retentionDays },
            "removed data past its retention period",
          );
        }
      })
      .catch((error: unknown) => options.logger.error({ err: error }, "retention purge failed; it runs again later"))
      .finally(() => {
        if (!stopped) {
          timer = setTimeout(run, intervalMs);
          // A pending purge is no reason to keep the process alive.
          timer.unref();
        }
      });
  };
  run();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
