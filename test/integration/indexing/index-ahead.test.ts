import { afterEach, describe, expect, it } from "vitest";
import { INDEX_REPOSITORY_JOB } from "../../../src/indexing/index-ahead.ts";
import { type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

const FILES = { "README.md": "# Widgets\n", "src/cache.ts": "export const cache = new Map();\n" };
const REPOSITORY = { id: 4242, name: "widgets", full_name: "octo-org/widgets", private: true };
const INSTALLATION = 77;

describe("indexes built ahead of need", () => {
  let amistio: TestAmistio;
  let github: FakeGithub | undefined;
  afterEach(async () => {
    await amistio?.close();
    github?.stop();
  });

  async function addRepository() {
    const created = webhookExample("installation", "created");
    created.installation = { ...(created.installation as object), id: INSTALLATION };
    created.repositories = [];
    await amistio.deliver("installation", created);
    const added = webhookExample("installation_repositories", "added");
    added.installation = { ...(added.installation as object), id: INSTALLATION };
    added.repositories_added = [REPOSITORY];
    await amistio.deliver("installation_repositories", added);
    await amistio.drain();
  }

  function push(ref: string) {
    const payload = webhookExample("push");
    payload.ref = ref;
    payload.deleted = false;
    payload.installation = { id: INSTALLATION };
    payload.repository = {
      ...(payload.repository as object),
      ...REPOSITORY,
      default_branch: "main",
      owner: { login: "octo-org", id: 99 },
    };
    return amistio.deliver("push", payload);
  }

  it("indexes a repository added to the installation, and brings it up to date after a push to its default branch", async () => {
    github = fakeGithub({ files: FILES });
    amistio = await startTestAmistio();
    await addRepository();
    const { db } = amistio.database;
    const index = await db.repositoryIndex.findFirstOrThrow({ include: { repository: true } });
    expect(index.repository.fullName).toBe("octo-org/widgets");
    expect(index.commitSha).toMatch(/^[0-9a-f]{40}$/);
    expect(await db.indexedFile.count()).toBe(2);
    expect(github.state.requests.filter((r) => r.includes("/tarball/"))).toHaveLength(1);

    // A push elsewhere does nothing; one to the default branch queues one debounced job.
    await push("refs/heads/feature");
    await push("refs/heads/main");
    await push("refs/heads/main");
    await amistio.drain();
    const jobs = await db.job.findMany({ where: { name: INDEX_REPOSITORY_JOB, status: "queued" } });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.runAt.getTime()).toBeGreaterThan(Date.now() + 30_000);

    github.stop();
    github = fakeGithub({ files: { ...FILES, "src/cache.ts": "export const cache = new WeakMap();\n" } });
    await db.job.updateMany({ where: { id: jobs[0]!.id }, data: { runAt: new Date() } });
    await amistio.drain();
    const updated = await db.repositoryIndex.findFirstOrThrow();
    expect(updated.commitSha).not.toBe(index.commitSha);
    expect(github.state.requests.some((r) => r.includes("/git/trees/"))).toBe(true);
    expect(github.state.requests.some((r) => r.includes("/tarball/"))).toBe(false);
  });

  it("leaves a repository without an index to its first plan when pushed to, and never fails the job for GitHub", async () => {
    github = fakeGithub({ files: FILES, tarball: 404 });
    amistio = await startTestAmistio();
    await addRepository();
    const { db } = amistio.database;
    // The archive answered 404: the job is done and the failure noted for the next plan.
    expect(await db.job.count({ where: { name: INDEX_REPOSITORY_JOB, status: "completed" } })).toBe(1);
    expect((await db.repositoryIndex.findFirstOrThrow()).failure).toContain("404");
    await db.repositoryIndex.deleteMany();
    await push("refs/heads/main");
    await amistio.drain();
    expect(await db.job.count({ where: { name: INDEX_REPOSITORY_JOB } })).toBe(1);
  });
});
