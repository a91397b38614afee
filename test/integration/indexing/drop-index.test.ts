import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../../src/db/create-database.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

/** An index of one file for the repository with this GitHub id, as a build would leave it. */
async function seedIndex(db: Db, githubId: number, sha: string): Promise<void> {
  const repository = await db.repository.findUniqueOrThrow({ where: { githubId: BigInt(githubId) } });
  await db.indexedBlob.upsert({ where: { sha }, create: { sha, size: 4, content: "text" }, update: {} });
  await db.repositoryIndex.create({
    data: {
      repositoryId: repository.id,
      ref: "main",
      commitSha: "c".repeat(40),
      fileCount: 1,
      files: { create: { path: "src/a.ts", blobSha: sha, size: 4 } },
    },
  });
}

describe("repository indexes leave with their repository", () => {
  let amistio: TestAmistio;
  beforeEach(async () => {
    amistio = await startTestAmistio();
  });
  afterEach(async () => {
    await amistio.close();
  });

  async function install() {
    const added = webhookExample("installation_repositories", "added");
    const installationId = (added.installation as { id: number }).id;
    const created = webhookExample("installation", "created");
    created.installation = { ...(created.installation as object), id: installationId };
    created.repositories = added.repositories_added;
    await amistio.deliver("installation", created);
    await amistio.drain();
    const ids = (added.repositories_added as { id: number }[]).map((repository) => repository.id);
    expect(ids.length).toBeGreaterThanOrEqual(1);
    const { db } = amistio.database;
    await seedIndex(db, ids[0]!, "a".repeat(40));
    // A second index elsewhere that shares no blob, and one that shares the first's.
    const other = await db.repository.create({
      data: { workspaceId: (await db.workspace.findFirstOrThrow()).id, githubId: 999_999n, fullName: "x/other" },
    });
    await seedIndex(db, Number(other.githubId), "b".repeat(40));
    return { installationId, ids };
  }

  it("drops a removed repository's index and the blobs only it named", async () => {
    const { installationId, ids } = await install();
    const removed = webhookExample("installation_repositories", "removed");
    removed.installation = { ...(removed.installation as object), id: installationId };
    removed.repositories_removed = [{ id: ids[0] }];
    await amistio.deliver("installation_repositories", removed);
    await amistio.drain();
    const { db } = amistio.database;
    expect(
      (await db.repositoryIndex.findMany({ include: { repository: true } })).map((i) => i.repository.fullName),
    ).toEqual(["x/other"]);
    expect((await db.indexedBlob.findMany()).map((blob) => blob.sha)).toEqual(["b".repeat(40)]);
    expect(await db.indexedFile.count()).toBe(1);
  });

  it("drops every index of an installation that is deleted", async () => {
    const { installationId } = await install();
    const deleted = webhookExample("installation", "deleted");
    deleted.installation = { ...(deleted.installation as object), id: installationId };
    await amistio.deliver("installation", deleted);
    await amistio.drain();
    const { db } = amistio.database;
    expect(await db.repositoryIndex.count()).toBe(0);
    expect(await db.indexedFile.count()).toBe(0);
    expect(await db.indexedBlob.count()).toBe(0);
  });
});
