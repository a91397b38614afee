import { randomUUID } from "node:crypto";
import { statSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Prisma } from "../../../src/db/create-database.ts";
import { HotPathSqlError } from "../../../src/db/sqlite-hot-path.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/test-database.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const insertDelivery = (id: string, receivedAt = new Date()) => Prisma.sql`
  INSERT INTO "WebhookDelivery" ("id", "event", "action", "installationId", "status", "receivedAt")
  VALUES (${id}, 'issues', 'opened', ${4242n}, 'queued', ${receivedAt})`;

describe("the SQLite hot-path connection", () => {
  let database: TestDatabase;
  beforeEach(async () => {
    database = await createTestDatabase("sqlite");
  });
  afterEach(async () => {
    await database.destroy();
  });

  it("writes values as Prisma stores them, so Prisma reads them back unchanged", async () => {
    const id = randomUUID();
    const receivedAt = new Date("2026-11-29T21:15:02.096Z");
    expect(await database.hotPath.execute(insertDelivery(id, receivedAt))).toBe(1);
    const row = await database.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ event: "issues", installationId: 4242n, status: "queued", receivedAt });
    // A date compared in SQL against one Prisma wrote: the same text format on both connections.
    const later = await database.hotPath.query<{ id: string }>(
      Prisma.sql`SELECT "id" FROM "WebhookDelivery" WHERE "receivedAt" >= ${receivedAt}`,
    );
    expect(later).toEqual([{ id }]);
  });

  it("fails only the statement that failed when several are committed together", async () => {
    const taken = randomUUID();
    await database.hotPath.execute(insertDelivery(taken));
    const fresh = [randomUUID(), randomUUID()];
    // Sent without waiting, so the thread commits them as one group.
    const outcomes = await Promise.allSettled([
      database.hotPath.execute(insertDelivery(fresh[0]!)),
      database.hotPath.execute(insertDelivery(taken)),
      database.hotPath.execute(insertDelivery(fresh[1]!)),
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
        written = database.hotPath.execute(insertDelivery(id));
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
    await database.db.$transaction(async (tx) => {
      const before = await tx.webhookDelivery.count();
      written = database.hotPath.execute(insertDelivery(randomUUID()));
      await sleep(50);
      // A deferred transaction fails here with SQLITE_BUSY once the other connection has committed.
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
    await database.hotPath.execute(insertDelivery(taken));
    const [undone, kept] = [randomUUID(), randomUUID()];
    // Sent without waiting, so the thread commits both in one group.
    const [failed, committed] = await Promise.allSettled([
      database.hotPath.transaction([insertDelivery(undone), insertDelivery(taken)]),
      database.hotPath.transaction([
        Prisma.sql`${insertDelivery(kept)} RETURNING "id"`,
        Prisma.sql`SELECT count(*) AS "n" FROM "WebhookDelivery"`,
      ]),
    ]);
    expect((failed as PromiseRejectedResult).reason).toMatchObject({ code: "SQLITE_CONSTRAINT_PRIMARYKEY" });
    expect((committed as PromiseFulfilledResult<unknown[][]>).value).toEqual([[{ id: kept }], [{ n: 2 }]]);
    const stored = await database.db.webhookDelivery.findMany({ select: { id: true }, orderBy: { id: "asc" } });
    expect(stored.map((row) => row.id)).toEqual([taken, kept].sort());
  });

  it("copies the write-ahead log back into the database file between commits, not in one", async () => {
    const file = database.url.slice("file:".length);
    // Prisma's connection leaves it to the hot-path thread.
    expect(await database.db.$queryRawUnsafe("PRAGMA wal_autocheckpoint")).toEqual([{ wal_autocheckpoint: 0n }]);
    const before = statSync(file).size;
    // About 2 MB: under the 4 MB at which SQLite would checkpoint inside a commit by itself.
    const error = "x".repeat(10_000);
    for (let i = 0; i < 20; i++) {
      await Promise.all(
        Array.from({ length: 10 }, () =>
          database.hotPath.execute(Prisma.sql`
            INSERT INTO "WebhookDelivery" ("id", "event", "status", "error", "receivedAt")
            VALUES (${randomUUID()}, 'issues', 'failed', ${error}, ${new Date()})`),
        ),
      );
    }
    const deadline = Date.now() + 5_000;
    while (statSync(file).size < before + 1_500_000 && Date.now() < deadline) await sleep(20);
    expect(statSync(file).size).toBeGreaterThanOrEqual(before + 1_500_000);
  });

  it("still copies the log back, once a second, while statements never stop arriving", async () => {
    const file = database.url.slice("file:".length);
    const before = statSync(file).size;
    // Statements of a few milliseconds each, sent faster than they run: from the first on, the
    // thread always has one waiting, which is when checkpoints give way to statements.
    const slow = Prisma.sql`
      WITH RECURSIVE "c"("x") AS (VALUES (1) UNION ALL SELECT "x" + 1 FROM "c" WHERE "x" < 20000)
      SELECT count(*) AS "n" FROM "c"`;
    const sent: Promise<unknown>[] = [];
    const drip = setInterval(() => sent.push(database.hotPath.query(slow)), 2);
    try {
      await sleep(100);
      const error = "x".repeat(10_000);
      const inserted = Array.from({ length: 200 }, () =>
        database.hotPath.execute(Prisma.sql`
          INSERT INTO "WebhookDelivery" ("id", "event", "status", "error", "receivedAt")
          VALUES (${randomUUID()}, 'issues', 'failed', ${error}, ${new Date()})`),
      );
      await Promise.all(inserted);
      const deadline = Date.now() + 2_500;
      while (statSync(file).size < before + 1_500_000 && Date.now() < deadline) await sleep(20);
      expect(statSync(file).size).toBeGreaterThanOrEqual(before + 1_500_000);
    } finally {
      clearInterval(drip);
      await Promise.allSettled(sent);
    }
  });

  it("refuses statements once closed, with a clear error", async () => {
    await database.hotPath.close();
    await expect(database.hotPath.query(Prisma.sql`SELECT 1`)).rejects.toThrow(
      "the SQLite hot-path thread has stopped",
    );
  });
});
