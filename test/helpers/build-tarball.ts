import { gzipSync } from "node:zlib";
import { Header } from "tar";

export interface TarballEntry {
  path: string;
  /** Absent for directories and links. */
  content?: string | Buffer;
  type?: "File" | "Directory" | "SymbolicLink" | "Link";
  linkpath?: string;
}

/**
 * A gzipped tar as GitHub's tarball endpoint serves it: everything under one top folder
 * (`<owner>-<repo>-<sha>/`). Headers are written by hand, so a test can put in what a careful
 * archiver never would (`..`, absolute paths).
 */
export function buildTarball(entries: TarballEntry[], top = "octo-org-widgets-abc1234"): Buffer {
  const blocks: Buffer[] = [];
  const all: TarballEntry[] = top ? [{ path: `${top}/`, type: "Directory" }, ...entries] : entries;
  for (const entry of all) {
    const content = entry.content === undefined ? Buffer.alloc(0) : Buffer.from(entry.content);
    const type = entry.type ?? (entry.content === undefined ? "Directory" : "File");
    const path = top && !entry.path.startsWith("/") && entry.path !== `${top}/` ? `${top}/${entry.path}` : entry.path;
    const header = new Header({
      path,
      type,
      size: type === "File" ? content.length : 0,
      mode: type === "Directory" ? 0o755 : 0o644,
      mtime: new Date(0),
      ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block);
    blocks.push(block);
    if (type === "File" && content.length > 0) {
      blocks.push(content, Buffer.alloc((512 - (content.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}
