import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type ArchiveLimits, gitBlobSha, readArchive } from "../../../src/indexing/read-archive.ts";
import { buildTarball } from "../../helpers/build-tarball.ts";

const LIMITS: ArchiveLimits = { maxArchiveBytes: 1e6, maxUnpackedBytes: 1e7, maxFileBytes: 1_000, maxFiles: 100 };

async function* chunks(buffer: Buffer, size = 64) {
  for (let i = 0; i < buffer.length; i += size) yield buffer.subarray(i, i + size);
}

describe("readArchive", () => {
  it("gives each regular file its path under the top folder and git's blob SHA", async () => {
    const tarball = buildTarball([
      { path: "README.md", content: "# hi\n" },
      { path: "src/" },
      { path: "src/a.ts", content: "export const a = 1;\n" },
    ]);
    const result = await readArchive(chunks(tarball), LIMITS);
    expect(result.files).toEqual([
      { path: "README.md", sha: gitBlobSha(Buffer.from("# hi\n")), size: 5, content: Buffer.from("# hi\n") },
      {
        path: "src/a.ts",
        sha: gitBlobSha(Buffer.from("export const a = 1;\n")),
        size: 20,
        content: expect.any(Buffer),
      },
    ]);
    // The same id git gives the content.
    expect(result.files[0]!.sha).toBe(
      execFileSync("git", ["hash-object", "--stdin"], { input: "# hi\n" }).toString().trim(),
    );
  });

  it("keeps a large file's SHA without its content, and counts files past the limit", async () => {
    const tarball = buildTarball([
      { path: "big.txt", content: "y".repeat(5_000) },
      { path: "a.txt", content: "a" },
      { path: "b.txt", content: "b" },
    ]);
    const result = await readArchive(chunks(tarball, 500), { ...LIMITS, maxFiles: 2 });
    expect(result.files.map((f) => [f.path, f.size, f.content?.toString() ?? null])).toEqual([
      ["big.txt", 5_000, null],
      ["a.txt", 1, "a"],
    ]);
    expect(result.files[0]!.sha).toBe(gitBlobSha(Buffer.from("y".repeat(5_000))));
    expect(result.overLimit).toBe(1);
  });

  it("stops downloading past the archive bound while it streams", async () => {
    const tarball = buildTarball([{ path: "r.bin", content: randomBytes(20_000) }]);
    let read = 0;
    async function* counted() {
      for await (const chunk of chunks(tarball, 1_000)) {
        read += chunk.length;
        yield chunk;
      }
    }
    await expect(readArchive(counted(), { ...LIMITS, maxArchiveBytes: 3_000 })).rejects.toThrow(
      "the archive is larger than 3,000 bytes",
    );
    expect(read).toBeLessThanOrEqual(4_000);
  });

  it("refuses what is not a tar file, and a truncated one", async () => {
    await expect(readArchive(chunks(Buffer.from("<html>not an archive</html>")), LIMITS)).rejects.toThrow(
      /not a valid tar file|could not be read/,
    );
    const tarball = buildTarball([{ path: "a.txt", content: "a".repeat(4_000) }]);
    await expect(readArchive(chunks(tarball.subarray(0, tarball.length - 20)), LIMITS)).rejects.toThrow(
      /could not be read|not a valid tar file/,
    );
  });
});
