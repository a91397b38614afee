import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { Db } from "../db/create-database.ts";
import { mapLimited } from "../github/map-limited.ts";
import type { Omission } from "../planning/fit-to-budget.ts";
import { decodeText, isSafePath, type RepositorySnapshot } from "../planning/repository-snapshot.ts";
import { isGitattributes, PathExclusions } from "./path-exclusions.ts";
import { ArchiveError, type ArchiveFile, type ArchiveLimits, formatMegabytes, readArchive } from "./read-archive.ts";

type Octokit = Pick<InstanceType<typeof ProbotOctokit>, "request">;

export interface IndexLimits extends ArchiveLimits {
  /** More changed blobs than this since the indexed commit: one archive download instead. */
  maxChangedBlobs: number;
  /** The archive download, start to end. */
  downloadTimeoutMs: number;
  /** A build that failed for a commit is not tried again for that commit before this. */
  retryFailedAfterMs: number;
}

export const DEFAULT_INDEX_LIMITS: IndexLimits = Object.freeze({
  maxArchiveBytes: 100_000_000,
  maxUnpackedBytes: 1_000_000_000,
  maxFileBytes: 256_000,
  maxFiles: 20_000,
  maxChangedBlobs: 200,
  downloadTimeoutMs: 120_000,
  retryFailedAfterMs: 60 * 60_000,
});

export interface RepositoryIndexOptions {
  db: Db;
  octokit: Octokit;
  log: Logger;
  owner: string;
  repo: string;
  /** Amistio's `Repository.id`. */
  repositoryId: string;
  limits?: Partial<IndexLimits>;
  now?: () => Date;
}

export type IndexOutcome =
  /** The snapshot at the branch head (or, with a note, at an older commit when the update failed). */
  | { snapshot: RepositorySnapshot; how: "current" | "updated" | "downloaded" | "stale"; note?: Omission }
  /** No index could be had: plan with the path-only context; the note says why. */
  | { snapshot?: undefined; how: "failed"; note: Omission };

/** The index cannot be built or brought up to date; `message` is shown to users as is. */
export class IndexError extends Error {
  override name = "IndexError";
}

interface Entry {
  path: string;
  sha: string;
  size: number;
}

interface BlobRow {
  sha: string;
  size: number;
  content: string | null;
  omitted: string | null;
}

// One build per repository at a time in this process: two plans asked together share it.
const building = new Map<string, Promise<IndexOutcome>>();

/**
 * The repository's files at its default branch's head, from the repository index, built or brought
 * up to date first when it must be: the first time from one archive download
 * (`GET /repos/{o}/{r}/tarball/{sha}`), later from the git tree by blob SHA, fetching only blobs
 * no index holds yet. In the steady state this costs one GitHub request (the branch head). Never
 * throws for GitHub or the archive: an outcome of `failed` says why, and planning goes on without.
 */
export async function repositorySnapshot(options: RepositoryIndexOptions): Promise<IndexOutcome> {
  const running = building.get(options.repositoryId);
  if (running) return running;
  const promise = snapshotOnce(options).finally(() => building.delete(options.repositoryId));
  building.set(options.repositoryId, promise);
  return promise;
}

async function snapshotOnce(options: RepositoryIndexOptions): Promise<IndexOutcome> {
  const { db, log, repositoryId } = options;
  const limits = { ...DEFAULT_INDEX_LIMITS, ...options.limits };
  const now = options.now ?? (() => new Date());
  const github = new IndexReader(options.octokit, options.owner, options.repo);
  let head: { branch: string; sha: string } | null;
  try {
    head = await branchHead(db, github, repositoryId);
  } catch (error) {
    return failed(log, error, "the repository's default branch could not be read");
  }
  if (head === null) {
    // An empty repository (or a default branch that is gone): the path-only reads say the same.
    return { how: "failed", note: pathOnlyNote("the repository has no commits on its default branch") };
  }
  const index = await db.repositoryIndex.findUnique({ where: { repositoryId } });
  if (index?.commitSha === head.sha && index.ref === head.branch) {
    return { snapshot: await loadSnapshot(db, index.id, head.sha), how: "current" };
  }
  const recentlyFailed =
    index?.failedSha === head.sha &&
    index.failedAt !== null &&
    now().getTime() - index.failedAt.getTime() < limits.retryFailedAfterMs;
  try {
    if (recentlyFailed) throw new IndexError(index.failure ?? "an earlier build failed");
    const indexId = await ensureIndexRow(db, repositoryId, head.branch);
    let how: "updated" | "downloaded" = "downloaded";
    if (index?.commitSha && index.ref === head.branch) {
      how = (await updateFromTree(db, github, indexId, head.sha, limits, log)) ? "updated" : "downloaded";
    }
    if (how === "downloaded") await buildFromArchive(db, github, indexId, head.sha, limits);
    await db.repositoryIndex.update({
      where: { id: indexId },
      data: { commitSha: head.sha, builtAt: now(), failure: null, failedSha: null, failedAt: null },
    });
    log.info({ repositoryId, commit: head.sha, how }, "repository index ready");
    return { snapshot: await loadSnapshot(db, indexId, head.sha), how };
  } catch (error) {
    const why = describeFailure(error);
    if (!recentlyFailed) {
      log.warn({ err: error, repositoryId, commit: head.sha }, "repository index could not be built");
      await db.repositoryIndex
        .update({ where: { repositoryId }, data: { failure: why, failedSha: head.sha, failedAt: now() } })
        .catch(() => undefined);
    }
    // An older index is still far better than paths alone.
    if (index?.commitSha) {
      return {
        snapshot: await loadSnapshot(db, index.id, index.commitSha),
        how: "stale",
        note: {
          what: `the files at ${head.branch}'s head ${head.sha.slice(0, 7)}`,
          why: `${why}; the index at ${index.commitSha.slice(0, 7)} was used`,
        },
      };
    }
    return { how: "failed", note: pathOnlyNote(why) };
  }
}

function failed(log: Logger, error: unknown, what: string): IndexOutcome {
  log.warn({ err: error }, what);
  return { how: "failed", note: pathOnlyNote(describeFailure(error)) };
}

function pathOnlyNote(why: string): Omission {
  return { what: "the repository index (files ranked by content)", why: `${why}; files were chosen by path only` };
}

function describeFailure(error: unknown): string {
  if (error instanceof ArchiveError || error instanceof IndexError) return error.message;
  const status = (error as { status?: number }).status;
  if (status === 404 || status === 403) {
    return `GitHub answered ${status} for the repository's archive (Amistio may not have the Contents permission)`;
  }
  if (status !== undefined) return `GitHub answered ${status} while reading the repository`;
  return "the index could not be built";
}

/** The default branch and its head commit; `null` when the repository has none (empty). */
async function branchHead(db: Db, github: IndexReader, repositoryId: string) {
  const repository = await db.repository.findUniqueOrThrow({
    where: { id: repositoryId },
    select: { defaultBranch: true },
  });
  let branch = repository.defaultBranch;
  if (!branch) {
    branch = await github.defaultBranch();
    if (!branch) return null;
    await db.repository.update({ where: { id: repositoryId }, data: { defaultBranch: branch } });
  }
  const sha = await github.branchHead(branch);
  return sha ? { branch, sha } : null;
}

async function ensureIndexRow(db: Db, repositoryId: string, ref: string): Promise<string> {
  const row = await db.repositoryIndex.upsert({
    where: { repositoryId },
    create: { repositoryId, ref },
    update: { ref },
    select: { id: true },
  });
  return row.id;
}

/** First index (or too much changed): one archive download at the commit. */
async function buildFromArchive(
  db: Db,
  github: IndexReader,
  indexId: string,
  sha: string,
  limits: IndexLimits,
): Promise<void> {
  const archive = await github.archive(sha, limits);
  const blobs = new Map<string, BlobRow>();
  for (const file of archive.files) blobs.set(file.sha, blobRow(file, limits));
  await storeBlobs(db, [...blobs.values()]);
  const notes: Omission[] = [];
  if (archive.overLimit > 0) {
    notes.push({
      what: `${archive.overLimit.toLocaleString("en")} files of the repository`,
      why: `over the index's limit of ${limits.maxFiles.toLocaleString("en")} files`,
    });
  }
  if (archive.skipped.unsafePaths > 0) {
    notes.push({ what: `${archive.skipped.unsafePaths} archive entries`, why: "their paths leave the repository" });
  }
  await replaceFiles(db, indexId, archive.files, blobs, notes);
}

/**
 * Brings an index to `sha` from the git tree, fetching only the blobs no index holds yet. False
 * when an archive download is the better way (a truncated tree, or too many changes).
 */
async function updateFromTree(
  db: Db,
  github: IndexReader,
  indexId: string,
  sha: string,
  limits: IndexLimits,
  log: Logger,
): Promise<boolean> {
  const tree = await github.tree(sha);
  if (tree.truncated) return false;
  const notes: Omission[] = [];
  let entries = tree.entries;
  const unsafe = entries.filter((entry) => !isSafePath(entry.path)).length;
  entries = entries.filter((entry) => isSafePath(entry.path));
  if (unsafe > 0) notes.push({ what: `${unsafe} tree entries`, why: "their paths leave the repository" });
  if (entries.length > limits.maxFiles) {
    notes.push({
      what: `${(entries.length - limits.maxFiles).toLocaleString("en")} files of the repository`,
      why: `over the index's limit of ${limits.maxFiles.toLocaleString("en")} files`,
    });
    entries = entries.slice(0, limits.maxFiles);
  }
  const known = await knownBlobs(db, [...new Set(entries.map((entry) => entry.sha))]);
  const missing = [...new Map(entries.filter((entry) => !known.has(entry.sha)).map((e) => [e.sha, e])).values()];
  const toFetch = missing.filter((entry) => entry.size <= limits.maxFileBytes);
  if (toFetch.length > limits.maxChangedBlobs) {
    log.info({ changed: toFetch.length }, "many files changed since the index: downloading the archive instead");
    return false;
  }
  const fetched = await mapLimited(toFetch, 4, async (entry) => {
    const content = await github.blob(entry.sha);
    return blobRow({ path: entry.path, sha: entry.sha, size: content.length, content }, limits);
  });
  const tooLarge = missing
    .filter((entry) => entry.size > limits.maxFileBytes)
    .map((entry) => ({ sha: entry.sha, size: entry.size, content: null, omitted: "too_large" }));
  await storeBlobs(db, [...fetched, ...tooLarge]);
  await replaceFiles(db, indexId, entries, undefined, notes);
  return true;
}

function blobRow(file: ArchiveFile, limits: IndexLimits): BlobRow {
  if (file.content === null || file.size > limits.maxFileBytes) {
    return { sha: file.sha, size: file.size, content: null, omitted: "too_large" };
  }
  // PostgreSQL text cannot hold NUL, and a NUL anywhere means binary for planning too.
  const text = file.content.includes(0) ? null : decodeText(file.content);
  return { sha: file.sha, size: file.size, content: text, omitted: text === null ? "binary" : null };
}

const CHUNK = 500;

async function knownBlobs(db: Db, shas: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < shas.length; i += 5_000) {
    const rows = await db.indexedBlob.findMany({
      where: { sha: { in: shas.slice(i, i + 5_000) } },
      select: { sha: true },
    });
    for (const row of rows) known.add(row.sha);
  }
  return known;
}

/** Content-addressed: a blob another index (or a build running beside this one) stored is kept as is. */
async function storeBlobs(db: Db, blobs: BlobRow[]): Promise<void> {
  const known = await knownBlobs(
    db,
    blobs.map((blob) => blob.sha),
  );
  const fresh = blobs.filter((blob) => !known.has(blob.sha));
  for (let i = 0; i < fresh.length; i += CHUNK) {
    const chunk = fresh.slice(i, i + CHUNK);
    try {
      await db.indexedBlob.createMany({ data: chunk });
    } catch {
      // Someone stored some of these meanwhile: one at a time, skipping those.
      for (const blob of chunk) await db.indexedBlob.create({ data: blob }).catch(() => undefined);
    }
  }
}

/**
 * Replaces the index's files with `entries` in one transaction, marking the paths `.gitattributes`
 * (or the path itself) says are generated, vendored or binary, and removes blobs no index names
 * any more.
 */
async function replaceFiles(
  db: Db,
  indexId: string,
  entries: Entry[],
  blobs: Map<string, BlobRow> | undefined,
  notes: Omission[],
): Promise<void> {
  const attributes: { path: string; text: string }[] = [];
  const attributeEntries = entries.filter((entry) => isGitattributes(entry.path));
  if (attributeEntries.length > 0) {
    const rows = blobs
      ? attributeEntries.map((entry) => blobs.get(entry.sha))
      : await db.indexedBlob.findMany({ where: { sha: { in: attributeEntries.map((entry) => entry.sha) } } });
    const bySha = new Map(rows.filter((row): row is BlobRow => Boolean(row)).map((row) => [row.sha, row.content]));
    for (const entry of attributeEntries) {
      const text = bySha.get(entry.sha);
      if (text) attributes.push({ path: entry.path, text });
    }
  }
  const exclusions = new PathExclusions(attributes);
  const rows = entries.map((entry) => ({
    indexId,
    path: entry.path,
    blobSha: entry.sha,
    size: entry.size,
    excluded: exclusions.exclusion(entry.path) ?? null,
  }));
  const before = await db.indexedFile.findMany({ where: { indexId }, select: { blobSha: true } });
  await db.$transaction(
    async (tx) => {
      await tx.indexedFile.deleteMany({ where: { indexId } });
      for (let i = 0; i < rows.length; i += CHUNK) await tx.indexedFile.createMany({ data: rows.slice(i, i + CHUNK) });
      await tx.repositoryIndex.update({
        where: { id: indexId },
        data: { fileCount: rows.length, notes: notes as unknown as object },
      });
    },
    { timeout: 60_000, maxWait: 30_000 },
  );
  const now = new Set(rows.map((row) => row.blobSha));
  await removeUnusedBlobs(
    db,
    [...new Set(before.map((row) => row.blobSha))].filter((sha) => !now.has(sha)),
  );
}

/** Deletes the blobs among `shas` that no index names. */
export async function removeUnusedBlobs(db: Db, shas: string[]): Promise<number> {
  let removed = 0;
  for (let i = 0; i < shas.length; i += 5_000) {
    const chunk = shas.slice(i, i + 5_000);
    const used = await db.indexedFile.findMany({
      where: { blobSha: { in: chunk } },
      select: { blobSha: true },
      distinct: ["blobSha"],
    });
    const usedSet = new Set(used.map((row) => row.blobSha));
    const unused = chunk.filter((sha) => !usedSet.has(sha));
    if (unused.length > 0) removed += (await db.indexedBlob.deleteMany({ where: { sha: { in: unused } } })).count;
  }
  return removed;
}

/**
 * Drops the indexes of repositories that left the installation (or of a deleted installation),
 * with every blob no other index names. The repository rows themselves stay (tasks refer to them).
 */
export async function dropRepositoryIndexes(db: Db, where: { repositoryIds?: string[]; workspaceId?: string }) {
  const indexes = await db.repositoryIndex.findMany({
    where: where.workspaceId
      ? { repository: { workspaceId: where.workspaceId } }
      : { repositoryId: { in: where.repositoryIds ?? [] } },
    select: { id: true },
  });
  if (indexes.length === 0) return 0;
  const ids = indexes.map((index) => index.id);
  const shas = await db.indexedFile.findMany({
    where: { indexId: { in: ids } },
    select: { blobSha: true },
    distinct: ["blobSha"],
  });
  await db.repositoryIndex.deleteMany({ where: { id: { in: ids } } });
  for (const key of snapshots.keys()) if (ids.includes(key.slice(0, key.indexOf(":")))) snapshots.delete(key);
  await removeUnusedBlobs(
    db,
    shas.map((row) => row.blobSha),
  );
  return ids.length;
}

// The snapshots last used, kept in memory so the next plan in the same repository neither reads
// thousands of rows again nor tokenises the files again (rank-files keeps each file's analysis with
// the file object). Bounded by count and by idle time: a snapshot of 5,000 files with its analysis
// is tens of megabytes.
const SNAPSHOT_CACHE_SIZE = 2;
const SNAPSHOT_IDLE_MS = 10 * 60_000;
const snapshots = new Map<string, { snapshot: RepositorySnapshot; usedAt: number }>();

/** The stored index as the planner ranks it; the same object again while it is cached. */
export async function loadSnapshot(db: Db, indexId: string, ref: string): Promise<RepositorySnapshot> {
  const key = `${indexId}:${ref}`;
  const now = Date.now();
  for (const [cachedKey, entry] of snapshots) {
    if (now - entry.usedAt > SNAPSHOT_IDLE_MS) snapshots.delete(cachedKey);
  }
  const cached = snapshots.get(key);
  if (cached) {
    // Most recently used last.
    snapshots.delete(key);
    snapshots.set(key, { ...cached, usedAt: now });
    return cached.snapshot;
  }
  const snapshot = await readSnapshot(db, indexId, ref);
  snapshots.set(key, { snapshot, usedAt: now });
  while (snapshots.size > SNAPSHOT_CACHE_SIZE) snapshots.delete(snapshots.keys().next().value!);
  return snapshot;
}

async function readSnapshot(db: Db, indexId: string, ref: string): Promise<RepositorySnapshot> {
  const [index, files] = await Promise.all([
    db.repositoryIndex.findUniqueOrThrow({ where: { id: indexId }, select: { notes: true } }),
    db.indexedFile.findMany({
      where: { indexId },
      select: { path: true, blobSha: true, size: true, excluded: true },
      orderBy: { path: "asc" },
    }),
  ]);
  const wanted = [...new Set(files.filter((file) => file.excluded === null).map((file) => file.blobSha))];
  const contents = new Map<string, string | null>();
  for (let i = 0; i < wanted.length; i += 5_000) {
    const rows = await db.indexedBlob.findMany({
      where: { sha: { in: wanted.slice(i, i + 5_000) } },
      select: { sha: true, content: true },
    });
    for (const row of rows) contents.set(row.sha, row.content);
  }
  return {
    ref,
    files: files.map((file) => ({
      path: file.path,
      size: file.size,
      text: file.excluded === null ? (contents.get(file.blobSha) ?? null) : null,
    })),
    omitted: (index.notes as Omission[] | null) ?? [],
  };
}

/** The GitHub reads the index makes. */
class IndexReader {
  constructor(
    private readonly octokit: Octokit,
    private readonly owner: string,
    private readonly repo: string,
  ) {}

  async defaultBranch(): Promise<string | null> {
    const { data } = await this.octokit.request("GET /repos/{owner}/{repo}", { owner: this.owner, repo: this.repo });
    return data.default_branch || null;
  }

  /** The branch's head commit; null when the branch does not exist (an empty repository). */
  async branchHead(branch: string): Promise<string | null> {
    try {
      const { data } = await this.octokit.request("GET /repos/{owner}/{repo}/branches/{branch}", {
        owner: this.owner,
        repo: this.repo,
        branch,
      });
      return data.commit.sha;
    } catch (error) {
      if ((error as { status?: number }).status === 404) return null;
      throw error;
    }
  }

  /** The archive at `sha`, read as it streams in (GitHub answers with a redirect, which fetch follows). */
  async archive(sha: string, limits: IndexLimits) {
    const signal = AbortSignal.timeout(limits.downloadTimeoutMs);
    const response = await this.octokit.request("GET /repos/{owner}/{repo}/tarball/{ref}", {
      owner: this.owner,
      repo: this.repo,
      ref: sha,
      request: { parseSuccessResponseBody: false, signal },
    });
    const length = Number(response.headers["content-length"] ?? 0);
    const body = response.data as unknown as ReadableStream<Uint8Array> | null;
    if (length > limits.maxArchiveBytes) {
      await body?.cancel().catch(() => undefined);
      throw new ArchiveError(`the archive is larger than ${formatMegabytes(limits.maxArchiveBytes)}`);
    }
    if (!body) throw new ArchiveError("GitHub sent no archive");
    try {
      return await readArchive(body as unknown as AsyncIterable<Uint8Array>, limits, signal);
    } catch (error) {
      if (signal.aborted) {
        throw new ArchiveError(
          `the archive took longer than ${Math.round(limits.downloadTimeoutMs / 1000)} s to download`,
        );
      }
      throw error;
    }
  }

  async tree(sha: string): Promise<{ entries: Entry[]; truncated: boolean }> {
    const response = await this.octokit.request("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", {
      owner: this.owner,
      repo: this.repo,
      tree_sha: sha,
      recursive: "1",
      request: { parseSuccessResponseBody: false },
    });
    // A big tree is megabytes of JSON: the platform's parser, not Octokit's BigInt-aware one.
    const data = (await new Response(response.data as unknown as ReadableStream).json()) as typeof response.data;
    const entries: Entry[] = [];
    for (const item of data.tree) {
      // Symlinks (120000) point anywhere; submodules are `commit` entries: neither is read.
      if (item.type === "blob" && item.mode !== "120000" && item.path && item.sha) {
        entries.push({ path: item.path, sha: item.sha, size: item.size ?? 0 });
      }
    }
    return { entries, truncated: data.truncated };
  }

  async blob(sha: string): Promise<Buffer> {
    const { data } = await this.octokit.request("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", {
      owner: this.owner,
      repo: this.repo,
      file_sha: sha,
    });
    return Buffer.from(data.content, data.encoding === "base64" ? "base64" : "utf8");
  }
}
