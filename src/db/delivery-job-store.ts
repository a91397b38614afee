import { randomUUID } from "node:crypto";
// The client's type from its generated module, as `Db` in create-database.ts, which builds this store.
import { type PrismaClient as Db, Prisma } from "./generated/sqlite/client.ts";
import type { HotPathSql } from "./hot-path-sql.ts";
import { isUniqueViolation } from "./is-unique-violation.ts";

/** A delivery's job key: queueing it again while its job is queued, running or completed does nothing. */
export const deliveryJobKey = (deliveryId: string): string => `${DELIVERY_JOB_KEY_PREFIX}${deliveryId}`;
const DELIVERY_JOB_KEY_PREFIX = "delivery:";

/** A webhook delivery as intake stores it, before any handler has seen it. */
export interface DeliveryRecord {
  id: string;
  event: string;
  action: string | null;
  installationId: bigint | null;
  /** The signed body, kept while the job is elsewhere (BullMQ) and carries only the id; else null. */
  payload: string | null;
}

/** A job as the embedded queue stores it. */
export interface JobRecord {
  queue: string;
  name: string;
  /** Idempotency key: while a job with it is queued, running or completed, no other is stored. */
  key: string | null;
  maxAttempts: number;
  runAt: Date;
  /** The input as JSON text. */
  input: string;
}

/** A job a worker may claim: due and queued, or running on a lease that ran out. */
export interface ClaimableJob {
  id: string;
  name: string;
  status: "queued" | "running";
  attempts: number;
  maxAttempts: number;
  runAt: Date;
}

/** What the claim that won reads back. */
export interface ClaimedJob {
  /** The job's input as stored; null when its row is gone. */
  input: string | null;
  /** The last try's error, where a wait for a rate limit keeps its record (queue/retry-later.ts). */
  lastError: string | null;
}

export type JobStatus = "queued" | "running" | "completed" | "failed";

/** What intake and the delivery worker ask of the database. */
export interface IntakeStore {
  /**
   * Stores the deliveries whose id is new, all in one transaction, with `jobs[i]` (when given: the
   * queue is in this database) stored for `deliveries[i]` only if that delivery was new and the job's
   * key is free. Says which deliveries were new and which of those got their job.
   */
  recordDeliveries(
    deliveries: readonly DeliveryRecord[],
    receivedAt: Date,
    jobs?: readonly JobRecord[],
  ): Promise<{ stored: Set<string>; queued: Set<string> }>;
  /** A delivery of an event Amistio does not handle: kept as `ignored`, once. */
  recordIgnoredDelivery(delivery: Omit<DeliveryRecord, "payload">, at: Date): Promise<void>;
  /** A delivery its worker finished (`done`) or dropped (`ignored`); its kept payload goes. */
  settleDelivery(id: string, status: "done" | "ignored", error: string | null, at: Date): Promise<void>;
  /**
   * Unfinished deliveries received before `cutoff`, in id order after `after`, whose job in this
   * database is neither queued nor running (the sweeper's look for stranded ones).
   */
  deliveriesWithoutLiveJob(cutoff: Date, after: string, limit: number): Promise<{ id: string; event: string }[]>;
}

/** What the embedded queue asks of the database: every read and write of its `Job` and `JobInput` rows. */
export interface JobStore {
  /** Stores each job whose key is free, in one transaction; its id, or undefined where the key was taken. */
  insertJobs(jobs: readonly JobRecord[], at: Date): Promise<(string | undefined)[]>;
  /** Queues a keyed job: a free key stores it, a failed job's key queues that job again; else nothing. */
  insertKeyedJob(job: JobRecord & { key: string }): Promise<{ id: string; created: boolean }>;
  /** Up to `limit` jobs to claim, those whose worker died first. */
  claimableJobs(queue: string, at: Date, limit: number): Promise<ClaimableJob[]>;
  /**
   * Takes the job for a worker's try if nobody claimed it since it was read: `token` marks every
   * later write of this try. Undefined when another worker won.
   */
  claimJob(job: ClaimableJob, token: string, at: Date, lockedUntil: Date): Promise<ClaimedJob | undefined>;
  /** A running job whose last try's worker died: failed, unless claimed since. True if this call failed it. */
  failAbandonedJob(job: ClaimableJob, at: Date, lastError: string): Promise<boolean>;
  /** The try holding `token` finished: the job completes and its input goes. False if the try had lost its lease. */
  completeJob(id: string, token: string, at: Date): Promise<boolean>;
  /** The try holding `token` failed for good. */
  failJob(id: string, token: string, lastError: string): Promise<void>;
  /**
   * The try holding `token` ends and the job waits until `runAt`. `giveBackTry` when the try should
   * not count (a wait for a rate limit, a worker stopping); `lastError` left out keeps the stored one.
   */
  requeueJob(
    id: string,
    token: string,
    requeue: { runAt: Date; lastError?: string; giveBackTry: boolean },
  ): Promise<void>;
  /** Extends the lease of the try holding `token`; false when the try no longer holds it. */
  renewLease(id: string, token: string, lockedUntil: Date): Promise<boolean>;
  jobsByKey(keys: readonly string[]): Promise<{ key: string; status: JobStatus; lastError: string | null }[]>;
  unfinishedJobCounts(
    queue: string,
  ): Promise<{ name: string; status: Exclude<JobStatus, "completed">; count: number }[]>;
  /** Throws when the database cannot be reached, on any of its connections (readiness). */
  ping(): Promise<void>;
}

/**
 * The one door through which webhook intake and the embedded queue reach their tables
 * (`WebhookDelivery`, `Job`, `JobInput`), so that neither builds SQL for the other and a delivery and
 * its job can be stored in one transaction. The statements run once per delivery or per job go
 * through `hotPath` (on SQLite a connection of its own in a worker thread); the rarer ones through
 * Prisma's client.
 */
export interface DeliveryJobStore extends IntakeStore, JobStore {}

export function createDeliveryJobStore(db: Db, hotPath: HotPathSql): DeliveryJobStore {
  /**
   * The INSERTs of one job and its input, the first returning its id when it stored it: a taken key,
   * or a row found by `unlessFound`, leaves both out. The same statements for every job, so that each
   * shape is prepared once.
   */
  function insertJobStatements(job: JobRecord, at: Date, unlessFound?: Prisma.Sql): [Prisma.Sql, Prisma.Sql] {
    const id = randomUUID();
    const guard = unlessFound ? Prisma.sql`NOT EXISTS (${unlessFound})` : Prisma.sql`true`;
    return [
      // SELECT … WHERE, not VALUES, to carry the guard; SQLite needs a WHERE before ON CONFLICT anyway.
      Prisma.sql`
        INSERT INTO "Job" ("id", "queue", "name", "key", "status", "attempts", "maxAttempts", "runAt", "createdAt", "updatedAt")
        SELECT ${id}, ${job.queue}, ${job.name}, ${job.key}, 'queued', 0, ${job.maxAttempts}, ${job.runAt}, ${at}, ${at}
        WHERE ${guard}
        ON CONFLICT DO NOTHING
        RETURNING "id"`,
      // The id is new, so the job exists only if the insert above stored it.
      Prisma.sql`
        INSERT INTO "JobInput" ("jobId", "data")
        SELECT ${id}, ${job.input} WHERE EXISTS (SELECT 1 FROM "Job" WHERE "id" = ${id})`,
    ];
  }

  /** Each job's id from a transaction of `insertJobStatements` pairs, or undefined where it was left out. */
  function storedJobIds(written: readonly unknown[][], jobs: number): (string | undefined)[] {
    return Array.from({ length: jobs }, (_, index) => (written[2 * index] as { id: string }[])[0]?.id);
  }

  const mine = (id: string, token: string) => ({ id, lockedBy: token, status: "running" });
  const unlocked = { lockedBy: null, lockedUntil: null };

  return {
    async recordDeliveries(deliveries, receivedAt, jobs) {
      if (jobs && jobs.length !== deliveries.length) throw new Error("one job per delivery, or none");
      const stored = new Set<string>();
      const queued = new Set<string>();
      if (deliveries.length === 0) return { stored, queued };
      const keepPayload = deliveries.some((delivery) => delivery.payload !== null);
      const values = deliveries.map((d) =>
        keepPayload
          ? Prisma.sql`(${d.id}, ${d.event}, ${d.action}, ${d.installationId}, 'queued', ${receivedAt}, ${d.payload})`
          : Prisma.sql`(${d.id}, ${d.event}, ${d.action}, ${d.installationId}, 'queued', ${receivedAt})`,
      );
      const insertDeliveries = Prisma.sql`
        INSERT INTO "WebhookDelivery" ("id", "event", "action", "installationId", "status", "receivedAt"${
          keepPayload ? Prisma.raw(`, "payload"`) : Prisma.empty
        })
        VALUES ${Prisma.join(values)}
        ON CONFLICT DO NOTHING
        RETURNING "id"`;
      if (!jobs) {
        for (const row of await hotPath.query<{ id: string }>(insertDeliveries)) stored.add(row.id);
        return { stored, queued };
      }
      // Only a delivery seen for the first time gets its job. The jobs go first, so that each job's
      // guard looks before the deliveries are inserted.
      const jobStatements = jobs.flatMap((job, index) =>
        insertJobStatements(
          job,
          receivedAt,
          Prisma.sql`SELECT 1 FROM "WebhookDelivery" WHERE "id" = ${deliveries[index]!.id}`,
        ),
      );
      const written = await hotPath.transaction([...jobStatements, insertDeliveries]);
      for (const row of written.at(-1) as { id: string }[]) stored.add(row.id);
      for (const [index, id] of storedJobIds(written, jobs.length).entries())
        if (id !== undefined) queued.add(deliveries[index]!.id);
      return { stored, queued };
    },

    async recordIgnoredDelivery(delivery, at) {
      await hotPath.execute(Prisma.sql`
        INSERT INTO "WebhookDelivery" ("id", "event", "action", "installationId", "status", "receivedAt", "handledAt")
        VALUES (${delivery.id}, ${delivery.event}, ${delivery.action}, ${delivery.installationId}, 'ignored', ${at}, ${at})
        ON CONFLICT DO NOTHING`);
    },

    async settleDelivery(id, status, error, at) {
      await hotPath.execute(Prisma.sql`
        UPDATE "WebhookDelivery" SET "status" = ${status}, "error" = ${error}, "payload" = NULL, "handledAt" = ${at}
        WHERE "id" = ${id}`);
    },

    async deliveriesWithoutLiveJob(cutoff, after, limit) {
      // Only deliveries whose job is not queued or running are worth a look, so a backlog of waiting
      // jobs costs one query, not a look-up per delivery.
      return db.$queryRaw<{ id: string; event: string }[]>`
        SELECT d."id", d."event" FROM "WebhookDelivery" d
        WHERE d."status" IN ('queued', 'retrying') AND d."receivedAt" < ${cutoff} AND d."id" > ${after}
          AND NOT EXISTS (SELECT 1 FROM "Job" j WHERE j."key" = ${Prisma.raw(`'${DELIVERY_JOB_KEY_PREFIX}'`)} || d."id" AND j."status" IN ('queued', 'running'))
        ORDER BY d."id" LIMIT ${limit}`;
    },

    async insertJobs(jobs, at) {
      if (jobs.length === 0) return [];
      const written = await hotPath.transaction(jobs.flatMap((job) => insertJobStatements(job, at)));
      return storedJobIds(written, jobs.length);
    },

    async insertKeyedJob(job) {
      const { key, input, ...fields } = job;
      for (let tries = 0; ; tries++) {
        const existing = await db.job.findUnique({ where: { key }, select: { id: true, status: true } });
        if (!existing) {
          try {
            const created = await db.job.create({
              data: { ...fields, key, input: { create: { data: input } } },
              select: { id: true },
            });
            return { id: created.id, created: true };
          } catch (error) {
            // Another enqueue with this key won the insert: read what it made.
            if (isUniqueViolation(error) && tries === 0) continue;
            throw error;
          }
        }
        if (existing.status !== "failed") return { id: existing.id, created: false };
        const requeued = await db.$transaction(async (tx) => {
          const { count } = await tx.job.updateMany({
            where: { id: existing.id, status: "failed" },
            data: { ...fields, ...unlocked, status: "queued", attempts: 0, lastError: null, completedAt: null },
          });
          if (count === 1) {
            await tx.jobInput.upsert({
              where: { jobId: existing.id },
              create: { jobId: existing.id, data: input },
              update: { data: input },
            });
          }
          return count === 1;
        });
        return { id: existing.id, created: requeued };
      }
    },

    async claimableJobs(queue, at, limit) {
      // Written into the statement, not bound: SQLite plans with a bound LIMIT's value, so binding
      // another value makes it compile the statement again, which it then did at almost every claim.
      const limitSql = Prisma.raw(String(Math.max(0, Math.floor(limit))));
      // Two index walks, not one OR: with an OR the database sorts every due job to return a
      // few, which under a backlog costs milliseconds per claim. Jobs whose worker died come first.
      const rows = await hotPath.query<Omit<ClaimableJob, "runAt"> & { runAt: Date | string | number }>(Prisma.sql`
        SELECT * FROM (
          SELECT "id", "name", "status", "attempts", "maxAttempts", "runAt" FROM "Job"
          WHERE "status" = 'running' AND "lockedUntil" < ${at} AND "queue" = ${queue}
          LIMIT ${limitSql}) AS "expired"
        UNION ALL
        SELECT * FROM (
          SELECT "id", "name", "status", "attempts", "maxAttempts", "runAt" FROM "Job"
          WHERE "queue" = ${queue} AND "status" = 'queued' AND "runAt" <= ${at}
          ORDER BY "runAt" ASC
          LIMIT ${limitSql}) AS "due"`);
      // Dates come back as each connection gives them: text from the SQLite thread, a Date from Prisma.
      return rows.map((row) => ({ ...row, runAt: new Date(row.runAt) }));
    },

    async claimJob(job, token, at, lockedUntil) {
      const stillAvailable =
        job.status === "running"
          ? Prisma.sql`"status" = 'running' AND "lockedUntil" < ${at}`
          : Prisma.sql`"status" = 'queued' AND "runAt" <= ${at}`;
      // `attempts` changes at every claim, so matching it makes the update lose to any claim made
      // since the candidate was read: exactly one worker gets count 1. The input is read only by the
      // claim that won, and by the same statement: as a transaction of two, the claim would hold its
      // row lock (PostgreSQL) for a round trip more, and another worker after the same job would
      // wait for it instead of moving on.
      const [won] = await hotPath.query<ClaimedJob>(Prisma.sql`
        UPDATE "Job" SET "status" = 'running', "attempts" = "attempts" + 1, "lockedBy" = ${token},
          "lockedUntil" = ${lockedUntil}, "updatedAt" = ${at}
        WHERE "id" = ${job.id} AND "attempts" = ${job.attempts} AND ${stillAvailable}
        RETURNING (SELECT "data" FROM "JobInput" WHERE "jobId" = ${job.id}) AS "input", "lastError"`);
      return won;
    },

    async failAbandonedJob(job, at, lastError) {
      const { count } = await db.job.updateMany({
        where: { id: job.id, attempts: job.attempts, status: "running", lockedUntil: { lt: at } },
        data: { ...unlocked, status: "failed", lastError },
      });
      return count === 1;
    },

    async completeJob(id, token, at) {
      // A finished job's row stays (its key keeps deduplicating) but not its input: that may hold
      // a webhook's payload, which is not kept once it has been handled.
      const [completed] = await hotPath.transaction([
        Prisma.sql`
          UPDATE "Job" SET "status" = 'completed', "completedAt" = ${at}, "lockedBy" = NULL,
            "lockedUntil" = NULL, "lastError" = NULL, "updatedAt" = ${at}
          WHERE "id" = ${id} AND "lockedBy" = ${token} AND "status" = 'running'
          RETURNING "id"`,
        Prisma.sql`
          DELETE FROM "JobInput"
          WHERE "jobId" = ${id} AND EXISTS (SELECT 1 FROM "Job" WHERE "id" = ${id} AND "status" = 'completed')`,
      ]);
      return completed?.length === 1;
    },

    async failJob(id, token, lastError) {
      await db.job.updateMany({ where: mine(id, token), data: { ...unlocked, status: "failed", lastError } });
    },

    async requeueJob(id, token, { runAt, lastError, giveBackTry }) {
      await db.job.updateMany({
        where: mine(id, token),
        data: {
          ...unlocked,
          status: "queued",
          runAt,
          ...(lastError === undefined ? {} : { lastError }),
          ...(giveBackTry ? { attempts: { decrement: 1 } } : {}),
        },
      });
    },

    async renewLease(id, token, lockedUntil) {
      const { count } = await db.job.updateMany({ where: mine(id, token), data: { lockedUntil } });
      return count === 1;
    },

    async jobsByKey(keys) {
      if (keys.length === 0) return [];
      const jobs = await db.job.findMany({
        where: { key: { in: [...keys] } },
        select: { key: true, status: true, lastError: true },
      });
      return jobs.map((job) => ({ key: job.key!, status: job.status as JobStatus, lastError: job.lastError }));
    },

    async unfinishedJobCounts(queue) {
      const rows = await db.job.groupBy({
        by: ["name", "status"],
        where: { queue, status: { in: ["queued", "running", "failed"] } },
        _count: { _all: true },
      });
      return rows.map((row) => ({
        name: row.name,
        status: row.status as "queued" | "running" | "failed",
        count: row._count._all,
      }));
    },

    async ping() {
      // Both connections: on SQLite the per-delivery statements have one of their own.
      await Promise.all([db.$queryRawUnsafe("SELECT 1"), hotPath.query(Prisma.sql`SELECT 1`)]);
    },
  };
}
