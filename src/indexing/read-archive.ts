import { createHash } from "node:crypto";
import { Parser, type ReadEntry } from "tar";
import { isSafePath } from "../planning/repository-snapshot.ts";

export interface ArchiveLimits {
  /** Bytes of the (compressed) archive as downloaded. */
  maxArchiveBytes: number;
  /** Bytes of all entries once unpacked: a small archive can unpack to a great deal. */
  maxUnpackedBytes: number;
  /** Files larger than this keep their SHA but not their content. */
  maxFileBytes: number;
  /** Files past this many are not indexed. */
  maxFiles: number;
}

/** One regular file of the archive. */
export interface ArchiveFile {
  /** Repository-relative path (the archive's top folder removed), checked to stay inside. */
  path: string;
  /** The git blob SHA-1 of the content, the same as the tree API's, so later updates compare by it. */
  sha: string;
  size: number;
  /** `null` when the file is larger than `maxFileBytes`. */
  content: Buffer | null;
}

export interface ArchiveContents {
  files: ArchiveFile[];
  /** Entries that are not regular files (symlinks, links, devices) or whose path leaves the repository. */
  skipped: { links: number; unsafePaths: number };
  /** Regular files past `maxFiles`, not indexed. */
  overLimit: number;
}

/** The archive cannot be indexed; `reason` is said to the user as is. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
}

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

/** git's object id for a blob: SHA-1 over `blob <size>\0` and the content. */
export function gitBlobSha(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/**
 * Reads a repository archive (tar, gzipped or not, as GitHub's tarball endpoint or `git archive`
 * gives it) as it streams in, never writing anything to disk. Symlinks, hard links and anything but
 * regular files are skipped (a submodule is an empty folder in an archive), as is every path that is
 * absolute or has `..`. Past `maxArchiveBytes` downloaded or `maxUnpackedBytes` unpacked, the read
 * stops at once with an `ArchiveError`.
 */
export async function readArchive(
  body: AsyncIterable<Uint8Array>,
  limits: ArchiveLimits,
  signal?: AbortSignal,
): Promise<ArchiveContents> {
  const result: ArchiveContents = { files: [], skipped: { links: 0, unsafePaths: 0 }, overLimit: 0 };
  let unpacked = 0;
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
  };

  const parser = new Parser({
    // Past 10,000 to 1 a gzip stream is a bomb, not a repository.
    maxDecompressionRatio: 10_000,
    onwarn: (code, message) => {
      if (code === "TAR_ABORT" || code === "TAR_BAD_ARCHIVE")
        fail(new ArchiveError(`the archive is not a valid tar file (${message})`));
    },
    onReadEntry: (entry: ReadEntry) => {
      if (entry.type === "GlobalExtendedHeader") {
        entry.resume();
        return;
      }
      unpacked += entry.size;
      if (unpacked > limits.maxUnpackedBytes) {
        fail(new ArchiveError(`the archive unpacks to more than ${formatMegabytes(limits.maxUnpackedBytes)}`));
        parser.abort(failure!);
        return;
      }
      // GitHub's archive puts everything under one folder named after the repository and commit.
      const path = entry.path.replace(/^[^/]*\/?/, "").replace(/\/$/, "");
      if (entry.type === "Directory" || path === "") {
        entry.resume();
        return;
      }
      if (!FILE_TYPES.has(entry.type)) {
        result.skipped.links++;
        entry.resume();
        return;
      }
      if (!isSafePath(path) || entry.path.startsWith("/")) {
        result.skipped.unsafePaths++;
        entry.resume();
        return;
      }
      if (result.files.length >= limits.maxFiles) {
        result.overLimit++;
        entry.resume();
        return;
      }
      const size = entry.size;
      const keep = size <= limits.maxFileBytes;
      const hash = createHash("sha1").update(`blob ${size}\0`);
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        if (keep) chunks.push(chunk);
      });
      entry.on("end", () => {
        result.files.push({ path, sha: hash.digest("hex"), size, content: keep ? Buffer.concat(chunks) : null });
      });
    },
  });
  const closed = new Promise<void>((resolve, reject) => {
    parser.on("error", (error: Error) =>
      reject(failure ?? new ArchiveError(`the archive could not be read (${error.message})`)),
    );
    parser.on("abort", () =>
      reject(failure ?? new ArchiveError("the archive could not be read (it is truncated or corrupt)")),
    );
    parser.on("close", () => resolve());
  });
  // Unhandled until awaited below; a rejection before then must not crash the process.
  closed.catch(() => undefined);

  let downloaded = 0;
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (signal?.aborted) throw new ArchiveError("the archive download took too long");
      if (failure) throw failure;
      const next = await iterator.next();
      if (next.done) break;
      downloaded += next.value.byteLength;
      if (downloaded > limits.maxArchiveBytes) {
        throw new ArchiveError(`the archive is larger than ${formatMegabytes(limits.maxArchiveBytes)}`);
      }
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (!parser.write(chunk)) await new Promise<void>((resolve) => parser.once("drain", resolve));
    }
    if (failure) throw failure;
    parser.end();
    await closed;
    if (failure) throw failure;
  } catch (error) {
    // Stop the download too: nothing more of it will be read.
    await iterator.return?.().catch(() => undefined);
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError(`the archive could not be read (${(error as Error).message})`);
  }
  return result;
}

export function formatMegabytes(bytes: number): string {
  if (bytes < 1_000_000) return `${bytes.toLocaleString("en")} bytes`;
  return `${Math.round(bytes / 1_000_000).toLocaleString("en")} MB`;
}
