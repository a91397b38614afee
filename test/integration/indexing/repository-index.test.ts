import { randomBytes } from "node:crypto";
import nock from "nock";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dropRepositoryIndexes, type IndexLimits, repositorySnapshot } from "../../../src/indexing/repository-index.ts";
import { buildTarball } from "../../helpers/build-tarball.ts";
import { type FakeGithubOptions, fakeGithub } from "../../helpers/fake-github.ts";
import { TestOctokit } from "../../helpers/test-amistio.ts";
import { createTestDatabase, PROVIDERS, type TestDatabase } from "../../helpers/test-database.ts";

const FILES = {
  "README.md": "# Widgets\n",
  "src/cache.ts": "export function lookupWidget(id: string) {\n  return store.get(id);\n}\n",
  "src/store.ts": "export const store = new Map<string, string>();\n",
  "test/cache.test.ts": "import { lookupWidget } from '../src/cache';\n",
};

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

describe.each(PROVIDERS)("repository index on %s", (provider) => {
  let database: TestDatabase;
  let repositoryId: string;
  let github: ReturnType<typeof fakeGithub> | undefined;

  beforeEach(async () => {
    database = await createTestDatabase(provider);
    const workspace = await database.db.workspace.create({
      data: { installationId: 77n, accountLogin: "octo-org", accountType: "Organization", accountId: 99n },
    });
    const repository = await database.db.repository.create({
      data: { workspaceId: workspace.id, githubId: 4242n, fullName: "octo-org/widgets", defaultBranch: "main" },
    });
    repositoryId = repository.id;
  });
  afterEach(async () => {
    github?.stop();
    github = undefined;
    await database.destroy();
  });

  const serve = (options: FakeGithubOptions) => {
    github?.stop();
    github = fakeGithub(options);
    return github;
  };
  const snapshot = (limits: Partial<IndexLimits> = {}) =>
    repositorySnapshot({
      db: database.db,
      octokit: new TestOctokit({ auth: "test" }),
      log,
      owner: "octo-org",
      repo: "widgets",
      repositoryId,
      limits,
    });
  const requests = () => github!.state.requests.filter((r) => !r.includes("/contents/"));

  it("builds from one archive download (following GitHub's redirect), then costs one request while current", async () => {
    serve({ files: FILES });
    const first = await snapshot();
    expect(first.how).toBe("downloaded");
    expect(requests()).toEqual([
      "GET /repos/octo-org/widgets/branches/main",
      expect.stringMatching(/^GET \/repos\/octo-org\/widgets\/tarball\/[0-9a-f]{40}$/),
      expect.stringMatching(/^GET \/_codeload\/octo-org\/widgets\/legacy\.tar\.gz\//),
    ]);
    expect(first.snapshot!.files.map((f) => [f.path, f.text])).toEqual(
      Object.entries(FILES).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    github!.state.requests.length = 0;
    const again = await snapshot();
    expect(again.how).toBe("current");
    expect(requests()).toEqual(["GET /repos/octo-org/widgets/branches/main"]);
    // Kept in memory: the next plan neither reads the rows again nor tokenises the files again.
    expect(again.snapshot).toBe(first.snapshot);
  });

  it("brings the index to a new commit from the tree, fetching only the blobs whose SHA changed", async () => {
    serve({ files: FILES });
    await snapshot();
    const blobsBefore = await database.db.indexedBlob.count();
    const changed = { ...FILES, "src/cache.ts": "export function lookupWidget() {}\n", "src/new.ts": "export {};\n" };
    delete (changed as Record<string, string>)["src/store.ts"];
    serve({ files: changed });
    const updated = await snapshot();
    expect(updated.how).toBe("updated");
    expect(requests()).toEqual([
      "GET /repos/octo-org/widgets/branches/main",
      expect.stringMatching(/^GET \/repos\/octo-org\/widgets\/git\/trees\/[0-9a-f]{40}\?recursive=1$/),
      expect.stringMatching(/^GET \/repos\/octo-org\/widgets\/git\/blobs\//),
      expect.stringMatching(/^GET \/repos\/octo-org\/widgets\/git\/blobs\//),
    ]);
    expect(Object.fromEntries(updated.snapshot!.files.map((f) => [f.path, f.text]))).toEqual(changed);
    // The old cache.ts and store.ts blobs are gone, the two new ones are in, the rest shared.
    expect(await database.db.indexedBlob.count()).toBe(blobsBefore);
    const index = await database.db.repositoryIndex.findUniqueOrThrow({ where: { repositoryId } });
    expect(index.fileCount).toBe(4);
  });

  it("never takes in a path that leaves the repository, from the archive or from the tree", async () => {
    serve({ files: { ...FILES, "../outside.ts": "export const outside = 1;\n" } });
    const built = await snapshot();
    expect(built.snapshot!.files.map((f) => f.path)).toEqual(Object.keys(FILES).sort());
    serve({ files: { ...FILES, "src/new.ts": "export {};\n", "src/../../outside.ts": "x\n", "/etc/passwd": "x\n" } });
    const updated = await snapshot();
    expect(updated.how).toBe("updated");
    expect(updated.snapshot!.files.map((f) => f.path)).toEqual([...Object.keys(FILES), "src/new.ts"].sort());
    expect(updated.snapshot!.omitted).toEqual([{ what: "2 tree entries", why: "their paths leave the repository" }]);
    // Their blobs were never fetched.
    expect(requests().filter((r) => r.includes("/git/blobs/"))).toHaveLength(1);
  });

  it("skips symlinks and submodules in the tree and never fetches what they point at", async () => {
    serve({ files: FILES });
    await snapshot();
    serve({
      files: { ...FILES, "src/new.ts": "export {};\n" },
      treeExtras: [
        { path: "src/link.ts", mode: "120000", type: "blob", sha: "1".repeat(40) },
        { path: "vendor/lib", mode: "160000", type: "commit", sha: "2".repeat(40) },
      ],
    });
    const updated = await snapshot();
    expect(updated.how).toBe("updated");
    expect(updated.snapshot!.files.map((f) => f.path)).toEqual([...Object.keys(FILES), "src/new.ts"].sort());
    expect(requests().filter((r) => r.includes("/git/blobs/"))).toHaveLength(1);
  });

  it("plans on path-only context when the archive answers 404, and does not download again for that commit", async () => {
    serve({ files: FILES, tarball: 404 });
    const outcome = await snapshot();
    expect(outcome).toEqual({
      how: "failed",
      note: {
        what: "the repository index (files ranked by content)",
        why: "GitHub answered 404 for the repository's archive (Amistio may not have the Contents permission); files were chosen by path only",
      },
    });
    github!.state.requests.length = 0;
    expect((await snapshot()).how).toBe("failed");
    expect(requests()).toEqual(["GET /repos/octo-org/widgets/branches/main"]);
  });

  it("stops reading an archive over the size bound, and says so", async () => {
    const big = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [
        `src/file-${i}.ts`,
        `export const x${i} = "${randomBytes(300).toString("base64")}";\n`,
      ]),
    );
    serve({ files: big });
    const outcome = await snapshot({ maxArchiveBytes: 2_000 });
    expect(outcome.how).toBe("failed");
    expect(outcome.note!.why).toBe("the archive is larger than 2,000 bytes; files were chosen by path only");
    expect(await database.db.indexedFile.count()).toBe(0);
  });

  it("stops reading an archive that unpacks past the bound (a gzip bomb)", async () => {
    serve({ files: { "zeros.txt": "0".repeat(3_000_000) } });
    const outcome = await snapshot({ maxUnpackedBytes: 1_000_000 });
    expect(outcome.note!.why).toBe("the archive unpacks to more than 1 MB; files were chosen by path only");
  });

  it("skips symlinks, links, submodules and paths that leave the repository; keeps binary and non-UTF-8 files without content", async () => {
    const tarball = buildTarball([
      { path: "src/" },
      { path: "src/ok.ts", content: "export const ok = 1;\n" },
      { path: "src/link.ts", type: "SymbolicLink", linkpath: "../../../etc/passwd" },
      { path: "src/hard.ts", type: "Link", linkpath: "src/ok.ts" },
      { path: "vendor-sub/" }, // a submodule is an empty folder in an archive
      { path: "../escape.ts", content: "outside" },
      { path: "src/../../escape2.ts", content: "outside" },
      { path: "/etc/abs.ts", content: "absolute" },
      { path: "logo.png", content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]) },
      { path: "latin1.txt", content: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]) },
      { path: "late-nul.txt", content: Buffer.concat([Buffer.alloc(9_000, 0x61), Buffer.from([0])]) },
      { path: "big.ts", content: "x".repeat(3_000) },
      { path: ".gitattributes", content: "gen/** linguist-generated\nlib/vendored.js linguist-vendored=true\n" },
      { path: "gen/api.ts", content: "export const generated = 1;\n" },
      { path: "lib/vendored.js", content: "module.exports = 1;\n" },
      { path: "dist/bundle.js", content: "bundle();\n" },
    ]);
    serve({ files: FILES, tarball });
    const outcome = await snapshot({ maxFileBytes: 2_000 });
    expect(outcome.how).toBe("downloaded");
    const files = Object.fromEntries(outcome.snapshot!.files.map((f) => [f.path, f.text]));
    expect(files).toEqual({
      ".gitattributes": "gen/** linguist-generated\nlib/vendored.js linguist-vendored=true\n",
      "big.ts": null,
      "dist/bundle.js": null,
      "gen/api.ts": null,
      "late-nul.txt": null,
      "latin1.txt": null,
      "lib/vendored.js": null,
      "logo.png": null,
      "src/ok.ts": "export const ok = 1;\n",
    });
    expect(outcome.snapshot!.omitted).toEqual([{ what: "3 archive entries", why: "their paths leave the repository" }]);
    const excluded = await database.db.indexedFile.findMany({
      where: { excluded: { not: null } },
      orderBy: { path: "asc" },
    });
    expect(excluded.map((f) => [f.path, f.excluded])).toEqual([
      ["dist/bundle.js", "generated"],
      ["gen/api.ts", "generated"],
      ["lib/vendored.js", "vendored"],
    ]);
  });

  it("answers an empty repository (no commit on its default branch) with a failed outcome, not an error", async () => {
    serve({ files: {}, emptyRepository: true });
    const outcome = await snapshot();
    expect(outcome.how).toBe("failed");
    expect(outcome.note!.why).toContain("the repository has no commits on its default branch");
  });

  it("indexes an archive with no files as an empty snapshot", async () => {
    serve({ files: { "README.md": "x" }, tarball: buildTarball([]) });
    const outcome = await snapshot();
    expect(outcome.how).toBe("downloaded");
    expect(outcome.snapshot!.files).toEqual([]);
  });

  it("uses the older index, saying so, when bringing it up to date fails", async () => {
    serve({ files: FILES });
    await snapshot();
    serve({ files: { ...FILES, "src/new.ts": "export {};\n" } });
    github!.state.refuse = (_method, path) => (path.includes("/git/trees/") ? [500, { message: "boom" }] : undefined);
    const outcome = await snapshot();
    expect(outcome.how).toBe("stale");
    expect(outcome.snapshot!.files.map((f) => f.path)).toEqual(Object.keys(FILES).sort());
    expect(outcome.note!.why).toMatch(
      /^GitHub answered 500 while reading the repository; the index at [0-9a-f]{7} was used$/,
    );
  });

  it("drops a repository's index and the blobs no other index names", async () => {
    serve({ files: FILES });
    await snapshot();
    // A second repository sharing one file.
    const other = await database.db.repository.create({
      data: {
        workspaceId: (await database.db.workspace.findFirstOrThrow()).id,
        githubId: 4343n,
        fullName: "octo-org/gadgets",
        defaultBranch: "main",
      },
    });
    nock.cleanAll();
    github = fakeGithub({ repo: "gadgets", files: { "README.md": FILES["README.md"], "lib/g.ts": "g\n" } });
    await repositorySnapshot({
      db: database.db,
      octokit: new TestOctokit({ auth: "test" }),
      log,
      owner: "octo-org",
      repo: "gadgets",
      repositoryId: other.id,
    });
    expect(await database.db.indexedBlob.count()).toBe(5);
    expect(await dropRepositoryIndexes(database.db, { repositoryIds: [repositoryId] })).toBe(1);
    expect(await database.db.repositoryIndex.count()).toBe(1);
    expect(await database.db.indexedFile.count()).toBe(2);
    expect(await database.db.indexedBlob.count()).toBe(2);
  });
});
