import { afterEach, describe, expect, it } from "vitest";
import { commentPayload, type FakeGithub, type FakeGithubOptions, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

// The fix is in src/store/memo.ts: nothing in its path matches the issue's words, its content does.
const FILES = {
  "README.md": "# Widgets\n",
  "src/store/memo.ts":
    "export function lookupWidget(id: string) {\n  // stale entries are returned after expiry\n  return cache.get(id);\n}\n",
  "src/widgets/lookup-page.ts": "export const title = 'Widgets';\n",
  "docs/widgets.md": "Widgets are listed here.\n",
};
const CONTEXT_READS = /\/(branches|tarball|git\/trees|git\/blobs|readme)\b|legacy\.tar\.gz|^GET \/repos\/[^/]+\/[^/]+$/;

describe("plans with the repository index", () => {
  let amistio: TestAmistio;
  let github: FakeGithub;
  const example = webhookExample("issue_comment", "created");
  afterEach(async () => {
    await amistio?.close();
    github?.stop();
  });

  async function start(options: Partial<FakeGithubOptions> = {}) {
    github = fakeGithub({
      roles: { alice: "write" },
      issues: {
        7: {
          title: "lookupWidget returns stale entries",
          body: "After expiry `lookupWidget` still returns the old value.",
          author: "alice",
        },
      },
      files: FILES,
      ...options,
    });
    amistio = await startTestAmistio();
  }
  const say = async (body: string) => {
    await amistio.deliver("issue_comment", commentPayload(example, github, { issue: 7, author: "alice", body }));
    await amistio.drain();
  };

  it("ranks the indexed files by content, downloading the archive once; the next plan reads only the branch head", async () => {
    await start();
    await say("/amistio plan");
    const version = await amistio.database.db.planVersion.findFirstOrThrow();
    const report = version.contextReport as { files: string[]; omitted: { what: string; why: string }[] };
    expect(report.files.filter((path) => path !== "README.md")[0]).toBe("src/store/memo.ts");
    const reads = github.state.requests.filter((r) => CONTEXT_READS.test(r));
    expect(reads.filter((r) => r.includes("/tarball/"))).toHaveLength(1);
    expect(reads.some((r) => r.includes("/git/blobs/") || r.includes("/readme"))).toBe(false);

    github.state.requests.length = 0;
    await say("/amistio revise keep the cache");
    // The default branch comes with the webhook payload (the example's is master).
    expect(github.state.requests.filter((r) => CONTEXT_READS.test(r))).toEqual([
      "GET /repos/octo-org/widgets/branches/master",
    ]);
    expect(await amistio.database.db.planVersion.count()).toBe(2);
  });

  it("plans with path-only context when the archive answers 404, and says so in the plan comment", async () => {
    await start({ tarball: 404 });
    await say("/amistio plan");
    const plan = github.replies().find((c) => c.body.includes("<!-- amistio:plan"))!;
    expect(plan.body).toContain(
      "the repository index (files ranked by content): GitHub answered 404 for the repository's archive (Amistio may not have the Contents permission); files were chosen by path only",
    );
    // The path-only reads ran instead.
    expect(github.state.requests.some((r) => r.includes("/git/trees/"))).toBe(true);
  });

  it("plans on an empty repository, saying it has no commits", async () => {
    await start({ files: {}, emptyRepository: true });
    await say("/amistio plan");
    const plan = github.replies().find((c) => c.body.includes("<!-- amistio:plan"))!;
    expect(plan.body).toContain("the repository has no commits on its default branch");
    expect(await amistio.database.db.planVersion.count()).toBe(1);
  });

  it("plans on a 1 MB issue body with the indexed files", async () => {
    await start({
      issues: {
        7: { title: "Huge report", body: `lookupWidget ${"stale entry log line\n".repeat(50_000)}`, author: "alice" },
      },
    });
    await say("/amistio plan");
    const version = await amistio.database.db.planVersion.findFirstOrThrow();
    const report = version.contextReport as { omitted: { what: string }[] };
    expect(report.omitted.map((o) => o.what)).toContain("the end of the issue body");
    expect((version.contextReport as { files: string[] }).files).toContain("src/store/memo.ts");
    expect(github.replies().some((c) => c.body.includes("<!-- amistio:plan"))).toBe(true);
  });
});
