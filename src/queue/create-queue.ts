import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import type { HotPathSql } from "../db/hot-path-sql.ts";
import { createEmbeddedQueue } from "./embedded-queue.ts";
import type { JobQueue } from "./job-queue.ts";

export interface CreateQueueOptions {
  /** Set (REDIS_URL) for BullMQ on Redis; unset for the queue embedded in the database. */
  redisUrl?: string;
  db: Db;
  hotPath: HotPathSql;
  logger: Logger;
}

/** BullMQ (and its Redis client) is loaded only when it is used: the default start stays small. */
export async function createQueue(options: CreateQueueOptions): Promise<JobQueue> {
  if (options.redisUrl) {
    const { createBullmqQueue } = await import("./bullmq-queue.ts");
    return createBullmqQueue({ redisUrl: options.redisUrl, logger: options.logger });
  }
  return createEmbeddedQueue({ db: options.db, hotPath: options.hotPath, logger: options.logger });
}
