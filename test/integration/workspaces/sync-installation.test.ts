import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../../src/audit/verify-audit-chain.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

describe("installations keep workspaces and repositories current", () => {
  let amistio: TestAmistio;
  beforeEach(async () => {
    amistio = await startTestAmistio();
  });
  afterEach(async () => {
    await amistio.close();
  });

  it("follows an installation through created, suspend, unsuspend, new permissions and deleted, auditing each", async () => {
    const created = webhookExample("installation", "created");
    const installationId = BigInt((created.installation as { id: number }).id);
    const repositories = created.repositories as { id: number; full_name: string }[];
    const { db } = amistio.database;

    const expectStatus = async (action: string, status: string) => {
      const payload = webhookExample("installation", action);
      payload.installation = { ...(payload.installation as object), id: Number(installationId) };
      expect((await amistio.deliver("installation", payload)).status).toBe(202);
      await amistio.drain();
      expect((await db.workspace.findUniqueOrThrow({ where: { installationId } })).status).toBe(status);
    };

    expect((await amistio.deliver("installation", created)).status).toBe(202);
    await amistio.drain();
    const workspace = await db.workspace.findUniqueOrThrow({ where: { installationId } });
    expect(workspace).toMatchObject({
      status: "active",
      accountLogin: (created.installation as { account: { login: string } }).account.login,
    });
    expect(
      (await db.repository.findMany({ where: { workspaceId: workspace.id } })).map((r) => r.fullName).sort(),
    ).toEqual(repositories.map((r) => r.full_name).sort());

    await expectStatus("suspend", "suspended");
    await expectStatus("unsuspend", "active");
    await expectStatus("new_permissions_accepted", "active");
    await expectStatus("deleted", "deleted");

    const actions = (await db.auditEvent.findMany({ orderBy: { seq: "asc" } })).map((event) => event.action);
    expect(actions).toEqual([
      "installation.created",
      "installation.suspend",
      "installation.unsuspend",
      "installation.new_permissions_accepted",
      "installation.deleted",
    ]);
    const events = await db.auditEvent.findMany();
    expect(events.every((event) => event.workspaceId === workspace.id && event.actorId !== null)).toBe(true);
    // Actors are internal ids, never logins.
    const sender = (created.sender as { login: string }).login;
    expect(events.some((event) => event.actorId === sender || event.data.includes(sender))).toBe(false);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, length: 5 });
  });

  it("adds and removes repositories of a known installation", async () => {
    const added = webhookExample("installation_repositories", "added");
    const installationId = (added.installation as { id: number }).id;
    const created = webhookExample("installation", "created");
    created.installation = { ...(created.installation as object), id: installationId };
    created.repositories = [];
    await amistio.deliver("installation", created);
    await amistio.deliver("installation_repositories", added);
    await amistio.drain();
    const { db } = amistio.database;
    const repositoriesAdded = added.repositories_added as { id: number; full_name: string }[];
    expect(await db.repository.count({ where: { removedAt: null } })).toBe(repositoriesAdded.length);

    const removed = webhookExample("installation_repositories", "removed");
    removed.installation = { ...(removed.installation as object), id: installationId };
    removed.repositories_removed = [{ id: repositoriesAdded[0]!.id }];
    await amistio.deliver("installation_repositories", removed);
    await amistio.drain();
    const gone = await db.repository.findUniqueOrThrow({ where: { githubId: BigInt(repositoriesAdded[0]!.id) } });
    expect(gone.removedAt).not.toBeNull();
    expect(await db.auditEvent.count({ where: { action: { startsWith: "repositories." } } })).toBe(2);
  });

  it("handles repository changes for an installation it has never seen without creating anything", async () => {
    const added = webhookExample("installation_repositories", "added");
    expect((await amistio.deliver("installation_repositories", added)).status).toBe(202);
    await amistio.drain();
    const { db } = amistio.database;
    expect(await db.workspace.count()).toBe(0);
    expect(await db.repository.count()).toBe(0);
    const delivery = await db.webhookDelivery.findFirstOrThrow();
    expect(delivery.status).toBe("done");
  });
});
