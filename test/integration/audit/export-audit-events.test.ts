import canonicalize from "canonicalize";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAuditEvent } from "../../../src/audit/append-audit-event.ts";
import { exportAuditEvents } from "../../../src/audit/export-audit-events.ts";
import { hashAuditEvent } from "../../../src/audit/hash-audit-event.ts";
import { createTestDatabase, PROVIDERS, type TestDatabase } from "../../helpers/test-database.ts";

describe.each(PROVIDERS)("exportAuditEvents on %s", (provider) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(provider);
    const at = new Date("2026-04-02T08:00:00.000Z");
    for (let i = 1; i <= 9; i++) {
      await appendAuditEvent(
        database.db,
        {
          workspaceId: i % 3 === 0 ? "ws-other" : "ws-mine",
          actorPseudonym: `user-${i}`,
          action: "plan.created",
          target: `task:${i}`,
          data: { i, nested: { z: [i], a: "é" } },
          deliveryId: i === 1 ? "delivery-1" : null,
        },
        { now: () => at },
      );
    }
    await appendAuditEvent(database.db, { action: "app.started" });
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it("writes only that workspace's events, in seq order, one JSON object per line", async () => {
    const lines: string[] = [];
    // batchSize 2 makes the export cross several pages.
    const count = await exportAuditEvents(database.db, {
      workspaceId: "ws-mine",
      write: async (line) => void lines.push(line),
      batchSize: 2,
    });

    expect(count).toBe(6);
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(line.endsWith("\n") && !line.slice(0, -1).includes("\n")).toBe(true);
    const events = lines.map((line) => JSON.parse(line));
    expect(events.map((event) => event.seq)).toEqual([1, 2, 4, 5, 7, 8]);
    expect(events.every((event) => event.workspaceId === "ws-mine")).toBe(true);
    const stored = (await database.db.auditEvent.findUnique({ where: { seq: 1 } }))!;
    expect(events[0]).toEqual({
      seq: 1,
      createdAt: "2026-04-02T08:00:00.000Z",
      workspaceId: "ws-mine",
      actorId: "user-1",
      action: "plan.created",
      target: "task:1",
      data: { i: 1, nested: { a: "é", z: [1] } },
      deliveryId: "delivery-1",
      prevHash: stored.prevHash,
      hash: stored.hash,
    });
  });

  it("lets a reader recompute each exported hash", async () => {
    const lines: string[] = [];
    await exportAuditEvents(database.db, { workspaceId: "ws-other", write: (line) => void lines.push(line) });
    expect(lines).toHaveLength(3);
    for (const event of lines.map((line) => JSON.parse(line))) {
      const recomputed = hashAuditEvent({
        ...event,
        createdAt: new Date(event.createdAt),
        data: canonicalize(event.data)!,
      });
      expect(recomputed).toBe(event.hash);
    }
  });

  it("writes nothing for a workspace without events", async () => {
    const lines: string[] = [];
    expect(
      await exportAuditEvents(database.db, { workspaceId: "ws-none", write: (line) => void lines.push(line) }),
    ).toBe(0);
    expect(lines).toEqual([]);
  });
});
