import type { Logger } from "pino";
import type { JobStore } from "../db/delivery-job-store.ts";
import { createEmbeddedQueue } from "./embedded-queue.ts";
import type { JobQueue } from "./job-queue.ts";

export interface CreateQueueOptions {
  /** Set (REDIS_URL) for BullMQ on Redis; unset for the queue embedded in the database. */
  redisUrl?: string;
  /** Where the embedded queue keeps its jobs. */
  store: JobStore;
  logger: Logger;
}

/** BullMQ (and its Redis client) is loaded only when it is used: the default start stays small. */
export async function createQueue(options: CreateQueueOptions): Promise<JobQueue> {
  if (options.redisUrl) {
    const { createBullmqQueue } = await import("./bullmq-queue.ts");
    return createBullmqQueue({ redisUrl: options.redisUrl, logger: options.logger });
  }
  return createEmbeddedQueue({ store: options.store, logger: options.logger });
}
