import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import { createBullmqQueue } from "./bullmq-queue.ts";
import { createEmbeddedQueue } from "./embedded-queue.ts";
import type { JobQueue } from "./job-queue.ts";

export interface CreateQueueOptions {
  /** Set (REDIS_URL) for BullMQ on Redis; unset for the queue embedded in the database. */
  redisUrl?: string;
  db: Db;
  logger: Logger;
}

export function createQueue(options: CreateQueueOptions): JobQueue {
  if (options.redisUrl) return createBullmqQueue({ redisUrl: options.redisUrl, logger: options.logger });
  return createEmbeddedQueue({ db: options.db, logger: options.logger });
}
