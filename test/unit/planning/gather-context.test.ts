import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import pino from "pino";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { countTokens } from "../../../src/planning/fit-to-budget.ts";
import {
  type ContextComment,
  type GatherContextOptions,
  gatherContext,
  renderContext,
} from "../../../src/planning/gather-context.ts";
import { fakeAwsAccessKeyId, fakeGitHubToken, fakeSlackBotToken } from "./helpers/fake-secrets.ts";

const API = "https://api.github.com";
const REPO = "/repos/acme/widgets";

const octokit = new ProbotOctokit({ auth: { token: "test" }, retry: { enabled: false }, throttle: { enabled: false } });
const logger = pino({ level: "silent" });

const base64 = (text: string | Buffer) => Buffer.from(text).toString("base64");

interface FakeFile {
  path: string;
  content?: string | Buffer;
  size?: number;
}

/** Answers the GitHub reads gatherContext makes, for a repository holding `files`. */
function fakeRepository(
  files: FakeFile[],
  options: { readme?: string | null; truncated?: boolean; ref?: string } = {},
) {
  const scope = nock(API);
  const ref = options.ref ?? "main";
  if (options.ref === undefined) scope.get(REPO).reply(200, { default_branch: "main" });
  scope
    .get(`${REPO}/git/trees/${ref}`)
    .query({ recursive: "1" })
    .reply(200, {
      sha: "root",
      truncated: options.truncated ?? false,
      tree: [
        { path: "src", type: "tree", sha: "dir", mode: "040000" },
        ...files.map((file, i) => ({
          path: file.path,
          type: "blob",
          mode: "100644",
          sha: `sha${i}`,
          size: file.size ?? Buffer.byteLength(file.content ?? ""),
        })),
      ],
    });
  if (options.readme === null) scope.get(`${REPO}/readme`).query({ ref }).reply(404, { message: "Not Found" });
  else
    scope
      .get(`${REPO}/readme`)
      .query({ ref })
      .reply(200, {
        path: "README.md",
        encoding: "base64",
        content: base64(options.readme ?? "# Widgets\nMakes widgets."),
      });
  files.forEach((file, i) => {
    if (file.content === undefined) return;
    scope
      .get(`${REPO}/git/blobs/sha${i}`)
      .optionally()
      .reply(200, { sha: `sha${i}`, encoding: "base64", content: base64(file.content) });
  });
  return scope;
}

function options(overrides: Partial<GatherContextOptions> = {}): GatherContextOptions {
  return {
    octokit,
    logger,
    owner: "acme",
    repo: "widgets",
    issue: {
      number: 7,
      title: "Widget export crashes",
      body: "Exporting fails in src/export/widget-export.ts when the name is empty.",
      labels: ["bug"],
      author: "alice",
    },
    comments: [],
    budgetTokens: 12_000,
    ...overrides,
  };
}

afterEach(() => {
  nock.cleanAll();
});

describe("gatherContext", () => {
  it("collects the issue, comments, tree, README, CODEOWNERS and the files the text names", async () => {
    const scope = fakeRepository([
      { path: "src/export/widget-export.ts", content: "export function exportWidget() {}\n" },
      { path: "src/export/widget-export.test.ts", content: "test('export', () => {});\n" },
      { path: "src/other.ts", content: "unrelated\n" },
      { path: ".github/CODEOWNERS", content: "* @acme/core\n" },
    ]);
    const comments: ContextComment[] = [
      { id: 101, author: "bob", body: "Also see `src/other.ts`." },
      { id: 102, author: "amistio[bot]", body: "<!-- amistio:plan task=t1 version=1 -->\nAn earlier plan" },
    ];
    const context = await gatherContext(options({ comments, instructions: "Keep changes small." }));

    expect(context.sections.map((s) => `${s.kind}: ${s.title}`)).toEqual([
      "instructions: the repository's instructions",
      "issue: issue #7",
      "comment: comment 101 by @bob",
      "tree: the repository tree",
      "readme: README.md",
      "codeowners: .github/CODEOWNERS",
      "file: src/export/widget-export.ts",
      "file: src/other.ts",
      "file: src/export/widget-export.test.ts",
    ]);
    const prompt = renderContext(context.sections);
    expect(prompt).toContain("## Issue #7: Widget export crashes\nOpened by @alice. Labels: bug.");
    expect(prompt).toContain("## Comment 101 by @bob");
    expect(prompt).toContain("## File src/export/widget-export.ts (named in the issue)");
    expect(prompt).toContain("export function exportWidget() {}");
    expect(prompt).not.toContain("An earlier plan");
    expect(context.report).toEqual({
      comments: [101],
      files: [
        "README.md",
        ".github/CODEOWNERS",
        "src/export/widget-export.ts",
        "src/other.ts",
        "src/export/widget-export.test.ts",
      ],
      redactions: [],
      omitted: [{ what: "comment 102", why: "it is an earlier Amistio plan" }],
    });
    expect(context.tokenCount).toBe(countTokens(prompt));
    expect(scope.isDone()).toBe(true);
  });

  it("redacts secrets in the issue, comments, labels and files before anything else sees them", async () => {
    const [inBody, inComment, inFile] = [fakeGitHubToken(), fakeSlackBotToken(), fakeAwsAccessKeyId()];
    fakeRepository([{ path: "config/settings.ts", content: `export const key = "${inFile}";\n` }]);
    const context = await gatherContext(
      options({
        issue: {
          number: 8,
          title: "Rotate config/settings.ts",
          body: `My token is ${inBody}`,
          labels: [],
          author: "alice",
        },
        comments: [{ id: 5, author: "bob", body: `and ${inComment}` }],
      }),
    );
    const everything = JSON.stringify(context);
    for (const secret of [inBody, inComment, inFile]) expect(everything).not.toContain(secret);
    expect(context.issue.body).toBe("My token is [REDACTED:github]");
    expect(context.report.redactions).toEqual([
      { rule: "aws", count: 1 },
      { rule: "github", count: 1 },
      { rule: "slack", count: 1 },
    ]);
  });

  it("says when there is no README", async () => {
    fakeRepository([{ path: "index.js", content: "" }], { readme: null });
    const context = await gatherContext(options());
    expect(context.report.omitted).toContainEqual({ what: "README", why: "the repository has none" });
    expect(context.sections.some((s) => s.kind === "readme")).toBe(false);
  });

  it("reads the given ref without asking for the default branch", async () => {
    const scope = fakeRepository([{ path: "a.txt", content: "a" }], { ref: "release-2" });
    const context = await gatherContext(options({ ref: "release-2" }));
    expect(scope.isDone()).toBe(true);
    expect(renderContext(context.sections)).toContain("## Repository files at release-2");
  });

  it("skips binary and oversized files the text names, and says so", async () => {
    fakeRepository([
      { path: "assets/logo.png", content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]) },
      { path: "data/huge.json", size: 5_000_000 },
    ]);
    const context = await gatherContext(
      options({ issue: { ...options().issue, body: "See assets/logo.png and data/huge.json" } }),
    );
    expect(context.report.files).toEqual(["README.md"]);
    expect(context.report.omitted).toEqual(
      expect.arrayContaining([
        { what: "assets/logo.png", why: "it is a binary file" },
        { what: "data/huge.json", why: "it is larger than 100 KB" },
      ]),
    );
  });

  it("goes on without the parts GitHub fails to give, and reports them", async () => {
    nock(API)
      .get(REPO)
      .reply(200, { default_branch: "main" })
      .get(`${REPO}/git/trees/main`)
      .query(true)
      .reply(500, { message: "boom" })
      .get(`${REPO}/readme`)
      .query(true)
      .reply(200, { path: "README.md", encoding: "base64", content: base64("hi") });
    for (const path of [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]) {
      nock(API).get(`${REPO}/contents/${path}`).query(true).reply(404, { message: "Not Found" });
    }
    const context = await gatherContext(options());
    expect(context.report.omitted).toContainEqual({ what: "the repository tree", why: "GitHub answered 500" });
    expect(context.sections.map((s) => s.kind)).toEqual(["issue", "readme"]);
  });

  it("looks CODEOWNERS up directly when the tree is truncated", async () => {
    fakeRepository([{ path: "a.txt", content: "a" }], { truncated: true });
    nock(API).get(`${REPO}/contents/.github%2FCODEOWNERS`).query(true).reply(404, { message: "Not Found" });
    nock(API)
      .get(`${REPO}/contents/CODEOWNERS`)
      .query(true)
      .reply(200, { type: "file", path: "CODEOWNERS", encoding: "base64", content: base64("* @acme/owners") });
    const context = await gatherContext(options());
    expect(context.report.files).toContain("CODEOWNERS");
    expect(context.report.omitted).toContainEqual({
      what: "part of the repository tree",
      why: "GitHub truncated the listing",
    });
  });

  it("keeps newer comments and the issue when the budget is short, and stays within it", async () => {
    fakeRepository([{ path: "src/a.ts", content: "const a = 1;\n".repeat(2000) }]);
    const comments = Array.from({ length: 30 }, (_, i) => ({
      id: 1000 + i,
      author: `user${i}`,
      body: `Comment number ${i}. ${"Some discussion about widgets. ".repeat(60)}`,
    }));
    const context = await gatherContext(options({ comments, budgetTokens: 3_000 }));

    expect(context.tokenCount).toBeLessThanOrEqual(3_000);
    expect(context.tokenCount).toBe(countTokens(renderContext(context.sections)));
    expect(context.sections[0]?.kind).toBe("issue");
    expect(context.report.comments.length).toBeGreaterThan(0);
    expect(context.report.comments.length).toBeLessThan(30);
    expect(context.report.comments).toContain(1029);
    expect(context.report.comments).not.toContain(1000);
    expect(context.report.omitted).toContainEqual({
      what: "comment 1000 by @user0",
      why: "it did not fit the token budget",
    });
  });

  it("copes with a 1 MB issue body and a 100,000-file tree", async () => {
    // A loopback server rather than nock: nock alone takes seconds to replay a 10 MB answer.
    const tree = JSON.stringify({
      sha: "root",
      truncated: true,
      tree: Array.from({ length: 100_000 }, (_, i) => ({
        path: `packages/pkg${i % 400}/src/module${i % 37}/file${i}.ts`,
        type: "blob",
        mode: "100644",
        sha: `s${i}`,
        size: 100,
      })),
    });
    const server = createServer((request, response) => {
      const path = request.url?.split("?")[0];
      const json = (status: number, body: string) => {
        response.writeHead(status, { "content-type": "application/json" }).end(body);
      };
      if (path === REPO) json(200, JSON.stringify({ default_branch: "main" }));
      else if (path === `${REPO}/git/trees/main`) json(200, tree);
      else json(404, JSON.stringify({ message: "Not Found" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const local = new ProbotOctokit({
      auth: { token: "test" },
      baseUrl: `http://127.0.0.1:${port}`,
      retry: { enabled: false },
      throttle: { enabled: false },
    });
    const body = `Refactor module12 in packages/pkg7/src/module7/file7.ts\n${"word ".repeat(210_000)}`;
    try {
      const context = await gatherContext(options({ octokit: local, issue: { ...options().issue, body } }));

      expect(context.tokenCount).toBeLessThanOrEqual(12_000);
      expect(context.issue.body.length).toBe(65_536);
      expect(context.report.omitted).toEqual(
        expect.arrayContaining([
          { what: "the end of the issue body", why: "it is longer than 65,536 characters" },
          { what: "part of the repository tree", why: "GitHub truncated the listing" },
          { what: "98,000 paths of the repository tree", why: "only the 2,000 shallowest paths are listed" },
          { what: "the end of issue #7", why: "cut to fit the token budget" },
        ]),
      );
      expect(renderContext(context.sections)).toContain("[… cut to fit the token budget]");
    } finally {
      server.close();
    }
  });
});

describe("gatherContext with a repository snapshot", () => {
  const failing = {
    request: async () => Promise.reject(Object.assign(new Error("offline"), { status: 500 })),
  } as never;
  const snapshot = {
    ref: "abc123",
    omitted: [],
    files: [
      { path: "README.md", size: 20, text: "# Widgets\nMakes widgets." },
      { path: "src/widget-cache.ts", size: 80, text: "export function cacheWidget(id: string) {\n  return id;\n}\n" },
      { path: "src/other.ts", size: 40, text: "export const other = 1;\n" },
      { path: "test/widget-cache.test.ts", size: 40, text: "cacheWidget('a');\n" },
      { path: "assets/logo.png", size: 10, text: null },
    ],
  };

  it("ranks by content, puts the best file first and makes no GitHub request", async () => {
    const context = await gatherContext({
      ...options({
        issue: {
          number: 9,
          title: "cacheWidget drops ids",
          body: "`cacheWidget` loses the id.",
          labels: [],
          author: "alice",
        },
      }),
      octokit: failing,
      snapshot,
    });
    const files = context.sections.filter((s) => s.kind === "file").map((s) => s.title);
    expect(files[0]).toBe("src/widget-cache.ts");
    expect(files).toContain("test/widget-cache.test.ts");
    expect(files).not.toContain("assets/logo.png");
    expect(context.report.files).toContain("README.md");
  });

  it("an empty tree gives a plan context with the issue alone", async () => {
    const context = await gatherContext({
      ...options(),
      octokit: failing,
      snapshot: { ref: "x", files: [], omitted: [] },
    });
    expect(context.sections.map((s) => s.kind)).toEqual(["issue"]);
    expect(context.report.omitted).toContainEqual({ what: "the repository's files", why: "the repository is empty" });
  });
});
