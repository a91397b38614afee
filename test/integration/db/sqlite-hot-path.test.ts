import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDatabase, type Database, Prisma } from "../../../src/db/create-database.ts";
import type { HotPathSql } from "../../../src/db/hot-path-sql.ts";
import { HotPathSqlError, type SqliteCheckpoint, startSqliteHotPath } from "../../../src/db/sqlite-hot-path.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/test-database.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const insertDelivery = (id: string, receivedAt = new Date()) => Prisma.sql`
  INSERT INTO "WebhookDelivery" ("id", "event", "action", "installationId", "status", "receivedAt")
  VALUES (${id}, 'issues', 'opened', ${4242n}, 'queued', ${receivedAt})`;

describe("the SQLite hot-path connection", () => {
  let database: TestDatabase;
  // A thread of the test's own on the database's file, beside the one the database runs for its store.
  let hotPath: HotPathSql;
  beforeEach(async () => {
    database = await createTestDatabase("sqlite");
    hotPath = await startSqliteHotPath({ file: database.url.slice("file:".length), busyTimeoutMs: 5_000 });
  });
  afterEach(async () => {
    await hotPath.close();
    await database.destroy();
  });

  it("writes values as Prisma stores them, so Prisma reads them back unchanged", async () => {
    const id = randomUUID();
    const receivedAt = new Date("2026-11-29T21:15:02.096Z");
    expect(await hotPath.execute(insertDelivery(id, receivedAt))).toBe(1);
    const row = await database.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ event: "issues", installationId: 4242n, status: "queued", receivedAt });
    // A date compared in SQL against one Prisma wrote: the same text format on both connections.
    const later = await hotPath.query<{ id: string }>(
      Prisma.sql`SELECT "id" FROM "WebhookDelivery" WHERE "receivedAt" >= ${receivedAt}`,
    );
    expect(later).toEqual([{ id }]);
  });

  it("fails only the statement that failed when several are committed together", async () => {
    const taken = randomUUID();
    await hotPath.execute(insertDelivery(taken));
    const fresh = [randomUUID(), randomUUID()];
    // Sent without waiting, so the thread commits them as one group.
    const outcomes = await Promise.allSettled([
      hotPath.execute(insertDelivery(fresh[0]!)),
      hotPath.execute(insertDelivery(taken)),
      hotPath.execute(insertDelivery(fresh[1]!)),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const failure = (outcomes[1] as PromiseRejectedResult).reason;
    expect(failure).toBeInstanceOf(HotPathSqlError);
    expect(failure.code).toBe("SQLITE_CONSTRAINT_PRIMARYKEY");
    expect(await database.db.webhookDelivery.count({ where: { id: { in: fresh } } })).toBe(2);
  });

  it("is not part of a Prisma transaction that is open meanwhile, nor undone by its rollback", async () => {
    const id = randomUUID();
    let written: Promise<number> | undefined;
    await expect(
      database.db.$transaction(async (tx) => {
        await tx.webhookDelivery.create({ data: { id: randomUUID(), event: "issues", status: "queued" } });
        // On Prisma's own connection this insert would run inside the open transaction and be undone.
        written = hotPath.execute(insertDelivery(id));
        await sleep(50);
        throw new Error("handler failed");
      }),
    ).rejects.toThrow("handler failed");
    expect(await written).toBe(1);
    expect(await database.db.webhookDelivery.findMany({ select: { id: true } })).toEqual([{ id }]);
  });

  it("lets a Prisma transaction read, then write, while the hot path writes in between", async () => {
    const id = randomUUID();
    let written: Promise<number> | undefined;
    await hotPath.query(Prisma.sql`SELECT 1`);
    await database.db.$transaction(async (tx) => {
      const before = await tx.webhookDelivery.count();
      written = hotPath.execute(insertDelivery(randomUUID()));
      // An immediate transaction holds the write lock, so the insert waits for it; a deferred one
      // lets the insert commit now, and then fails below with SQLITE_BUSY.
      await Promise.race([written, sleep(1_000)]);
      await tx.webhookDelivery.create({ data: { id, event: "issues", status: `seen ${before}` } });
    });
    expect(await written).toBe(1);
    expect(await database.db.webhookDelivery.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "seen 0",
    });
    expect(await database.db.webhookDelivery.count()).toBe(2);
  });

  it("runs a transaction's statements together: one failing undoes its own, not another transaction's", async () => {
    const taken = randomUUID();
    await hotPath.execute(insertDelivery(taken));
    const [undone, kept] = [randomUUID(), randomUUID()];
    // Sent without waiting, so the thread commits both in one group.
    const [failed, committed] = await Promise.allSettled([
      hotPath.transaction([insertDelivery(undone), insertDelivery(taken)]),
      hotPath.transaction([
        Prisma.sql`${insertDelivery(kept)} RETURNING "id"`,
        Prisma.sql`SELECT count(*) AS "n" FROM "WebhookDelivery"`,
      ]),
    ]);
    expect((failed as PromiseRejectedResult).reason).toMatchObject({ code: "SQLITE_CONSTRAINT_PRIMARYKEY" });
    expect((committed as PromiseFulfilledResult<unknown[][]>).value).toEqual([[{ id: kept }], [{ n: 2 }]]);
    const stored = await database.db.webhookDelivery.findMany({ select: { id: true }, orderBy: { id: "asc" } });
    expect(stored.map((row) => row.id)).toEqual([taken, kept].sort());
  });

  it("refuses statements once closed, with a clear error", async () => {
    await hotPath.close();
    await expect(hotPath.query(Prisma.sql`SELECT 1`)).rejects.toThrow("the SQLite hot-path thread has stopped");
  });
});

describe("the SQLite checkpoints", () => {
  let dir: string;
  let database: Database;
  const checkpoints: SqliteCheckpoint[] = [];
  let onCheckpoint: ((checkpoint: SqliteCheckpoint) => void) | undefined;
  /** The next checkpoint that copied pages back and matches; no deadline but the test's own timeout. */
  const nextCheckpoint = (matches: (checkpoint: SqliteCheckpoint) => boolean) =>
    new Promise<SqliteCheckpoint>((resolve) => {
      onCheckpoint = (checkpoint) => {
        if (matches(checkpoint)) resolve(checkpoint);
      };
    });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "amistio-checkpoint-"));
    checkpoints.length = 0;
    onCheckpoint = undefined;
    database = await createDatabase({
      url: `file:${join(dir, "test.db")}`,
      onCheckpoint: (checkpoint) => {
        checkpoints.push(checkpoint);
        onCheckpoint?.(checkpoint);
      },
    });
  });
  afterEach(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const file = () => join(dir, "test.db");
  // About 2 MB in all: under the 4 MB at which SQLite would checkpoint inside a commit by itself.
  const largeDeliveries = (count: number) =>
    Array.from({ length: count }, () => ({
      id: randomUUID(),
      event: "issues",
      action: null,
      installationId: null,
      payload: "x".repeat(10_000),
    }));

  it("copies the write-ahead log back into the database file between commits, not in one", async () => {
    // Prisma's connection leaves it to the hot-path thread.
    expect(await database.db.$queryRawUnsafe("PRAGMA wal_autocheckpoint")).toEqual([{ wal_autocheckpoint: 0n }]);
    const before = statSync(file()).size;
    const copied = nextCheckpoint((checkpoint) => checkpoint.pages >= 300);
    for (let i = 0; i < 20; i++) {
      await Promise.all(largeDeliveries(10).map((delivery) => database.store.recordDeliveries([delivery], new Date())));
    }
    await copied;
    expect(statSync(file()).size).toBeGreaterThanOrEqual(before + 1_500_000);
  });

  it("still copies the log back while statements never stop arriving", async () => {
    // The thread alone on the file, with statements of its own choosing.
    await database.close();
    const thread = await startSqliteHotPath({
      file: file(),
      busyTimeoutMs: 5_000,
      onCheckpoint: (checkpoint) => onCheckpoint?.(checkpoint),
    });
    const before = statSync(file()).size;
    // A write and a statement of a few milliseconds, sent every 2 ms: faster than they run, so from
    // the first on the thread always has one waiting, which is when its timer never gets to copy.
    const slow = Prisma.sql`
      WITH RECURSIVE "c"("x") AS (VALUES (1) UNION ALL SELECT "x" + 1 FROM "c" WHERE "x" < 20000)
      SELECT count(*) AS "n" FROM "c"`;
    const error = "x".repeat(10_000);
    const sent: Promise<unknown>[] = [];
    const drip = setInterval(() => {
      sent.push(thread.query(slow));
      sent.push(
        thread.execute(Prisma.sql`
          INSERT INTO "WebhookDelivery" ("id", "event", "status", "error", "receivedAt")
          VALUES (${randomUUID()}, 'issues', 'failed', ${error}, ${new Date()})`),
      );
    }, 2);
    try {
      const copied = await nextCheckpoint((checkpoint) => checkpoint.busy);
      expect(copied.pages).toBeGreaterThan(0);
      expect(statSync(file()).size).toBeGreaterThan(before);
    } finally {
      clearInterval(drip);
      await Promise.all(sent);
      await thread.close();
    }
  });
});
