import type { Omission } from "./fit-to-budget.ts";

/** One file of a repository snapshot. */
export interface SnapshotFile {
  /** Repository-relative path, never with `..` or a leading `/`. */
  path: string;
  size: number;
  /** UTF-8 text; `null` when the content is left out (binary, not UTF-8, too large, generated, vendored). */
  text: string | null;
}

/** A repository's files at one ref, bounded, as the planner ranks them. */
export interface RepositorySnapshot {
  ref: string;
  files: SnapshotFile[];
  /** What was left out while building the snapshot, and why. */
  omitted: Omission[];
}

export interface SnapshotLimits {
  maxFiles: number;
  maxFileBytes: number;
  maxTotalBytes: number;
}

export const DEFAULT_SNAPSHOT_LIMITS: SnapshotLimits = Object.freeze({
  maxFiles: 20_000,
  maxFileBytes: 200_000,
  maxTotalBytes: 64_000_000,
});

/** A repository-relative path that stays inside the repository. */
export function isSafePath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.includes("\0") || path.includes("\\")) return false;
  return path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

/**
 * Decodes file content for the snapshot: `null` for binary (a NUL byte in the first 8,000 bytes,
 * git's own test) or text that is not valid UTF-8.
 */
export function decodeText(content: Buffer): string | null {
  if (content.subarray(0, 8000).includes(0)) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(content);
  } catch {
    return null;
  }
}
