import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { gitBlobSha } from "../../src/indexing/read-archive.ts";
import { buildTarball } from "./build-tarball.ts";

export interface FakeComment {
  id: number;
  body: string;
  user: { login: string; type: string };
}

export interface FakeGithubOptions {
  owner?: string;
  repo?: string;
  /** login → role_name (admin, maintain, write, triage, read); anyone else gets 404 (none). */
  roles?: Record<string, string>;
  /** Repository files on the default branch, by path. */
  files?: Record<string, string>;
  /** Issues by number: title, body, author. */
  issues?: Record<number, { title: string; body: string; author: string }>;
  /** `.github/amistio.yml` text; absent → 404 (defaults apply). */
  settings?: string;
  /**
   * Called with each workflow dispatch's inputs; the dispatch then answers as github.com does (200 with
   * the new run's id). Absent: the repository has no runner workflow, and dispatching answers 404.
   */
  onDispatch?: (inputs: Record<string, string>) => void;
  /**
   * The repository archive (`/tarball/{ref}`, a redirect to the download host as GitHub answers):
   * built from `files` by default; a number answers that status instead (404: no Contents permission).
   */
  tarball?: Buffer | number;
  /** The default branch has no commit (an empty repository): its branch answers 404. */
  emptyRepository?: boolean;
  /** More tree entries besides `files`, e.g. symlinks (mode 120000) and submodules (type commit). */
  treeExtras?: { path: string; mode: string; type: string; sha: string; size?: number }[];
}

const PERMISSION_OF: Record<string, string> = {
  admin: "admin",
  maintain: "write",
  write: "write",
  triage: "read",
  read: "read",
};

type Reply = [number, unknown?, Record<string, string>?];

/** Where the fake sends archive downloads; bound to a host by `fakeGithub` or `serveFakeGithub`. */
export const CODELOAD_PATH = "/_codeload";

/** Request bodies as Amistio sends them: { body } for comments, { content } for reactions, { inputs } for dispatches. */
interface RequestBody {
  body?: string;
  content?: string;
  inputs?: Record<string, string>;
}

/**
 * GitHub's REST API for one repository as a plain function: what Amistio reads comes from the
 * options, what it writes (comments, reactions, edits) is kept so tests can assert on it. Bound to
 * nock for tests (`fakeGithub`) or to a real HTTP server for benchmarks (`serveFakeGithub`).
 */
export function createFakeGithubApi(options: FakeGithubOptions = {}) {
  const owner = options.owner ?? "octo-org";
  const repo = options.repo ?? "widgets";
  const files = options.files ?? {};
  const state = {
    comments: [] as (FakeComment & { issue: number })[],
    reactions: [] as { commentId: number; content: string }[],
    edits: 0,
    /** Every comment body written, created or edited, in order: a tracking comment's states. */
    writes: [] as { id: number; body: string }[],
    requests: [] as string[],
    /** Called after each comment is created, e.g. to time a benchmark. */
    onComment: undefined as ((comment: FakeComment & { issue: number }) => void) | undefined,
    /** When it returns an answer, that request fails with it and changes nothing (injected faults). */
    refuse: undefined as
      | ((method: string, path: string, body: RequestBody | undefined) => Reply | undefined)
      | undefined,
  };
  let nextId = 9_000_000_001;
  // Git's own blob ids, so the repository index can compare the tree with what the archive held.
  const sha = (path: string) => gitBlobSha(Buffer.from(files[path]!));
  const tree = Object.entries(files).map(([path, text]) => ({
    path,
    mode: "100644",
    type: "blob",
    sha: sha(path),
    size: Buffer.byteLength(text),
  }));
  tree.push(...(options.treeExtras ?? []).map((entry) => ({ size: 0, ...entry })));
  const bySha = new Map(Object.keys(files).map((path) => [sha(path), path]));
  const headSha = createHash("sha1").update(JSON.stringify(tree)).digest("hex");
  let archive: Buffer | undefined;
  const base = `/repos/${owner}/${repo}`;
  const notFound: Reply = [404, { message: "Not Found" }];

  let workflowRunId = 1;
  const routes: [string, RegExp, (match: RegExpMatchArray, body: RequestBody) => Reply][] = [
    [
      "GET",
      new RegExp(`^/repos/${owner}/(${repo}|\\.github)/contents/(\\.github%2F|\\.github/)amistio\\.yml`),
      (m) =>
        // Probot's config plugin asks for the raw file.
        m[1] === repo && options.settings !== undefined ? [200, options.settings] : notFound,
    ],
    [
      "GET",
      new RegExp(`^${base}/collaborators/([^/]+)/permission`),
      (m) => {
        const login = decodeURIComponent(m[1]!);
        const role = options.roles?.[login];
        return role ? [200, { permission: PERMISSION_OF[role], role_name: role, user: { login } }] : notFound;
      },
    ],
    [
      "POST",
      new RegExp(`^${base}/(issues|pulls)/comments/(\\d+)/reactions`),
      (m, body) => {
        state.reactions.push({ commentId: Number(m[2]), content: body.content ?? "" });
        return [201, { id: 1, content: body.content ?? "" }];
      },
    ],
    [
      "POST",
      new RegExp(`^${base}/issues/(\\d+)/comments`),
      (m, body) => {
        const comment = {
          id: nextId++,
          issue: Number(m[1]),
          body: body.body ?? "",
          user: { login: "amistio[bot]", type: "Bot" },
        };
        state.comments.push(comment);
        state.writes.push({ id: comment.id, body: comment.body });
        state.onComment?.(comment);
        return [201, comment];
      },
    ],
    [
      "PATCH",
      new RegExp(`^${base}/issues/comments/(\\d+)`),
      (m, body) => {
        const comment = state.comments.find((c) => c.id === Number(m[1]));
        if (!comment) return notFound;
        comment.body = body.body ?? "";
        state.edits++;
        state.writes.push({ id: comment.id, body: comment.body });
        return [200, comment];
      },
    ],
    [
      "GET",
      new RegExp(`^${base}/issues/comments/(\\d+)`),
      (m) => {
        const comment = state.comments.find((c) => c.id === Number(m[1]));
        return comment ? [200, comment] : notFound;
      },
    ],
    [
      "DELETE",
      new RegExp(`^${base}/issues/comments/(\\d+)`),
      (m) => {
        state.comments = state.comments.filter((c) => c.id !== Number(m[1]));
        return [204];
      },
    ],
    [
      "GET",
      new RegExp(`^${base}/issues/(\\d+)/comments`),
      (m) => [200, state.comments.filter((c) => c.issue === Number(m[1]))],
    ],
    [
      "GET",
      new RegExp(`^${base}/issues/(\\d+)(\\?|$)`),
      (m) => {
        const number = Number(m[1]);
        const issue = options.issues?.[number] ?? { title: `Issue ${number}`, body: "", author: "alice" };
        return [200, { number, title: issue.title, body: issue.body, labels: [], user: { login: issue.author } }];
      },
    ],
    ["GET", new RegExp(`^${base}(\\?|$)`), () => [200, { default_branch: "main", full_name: `${owner}/${repo}` }]],
    ["GET", new RegExp(`^${base}/git/trees/`), () => [200, { sha: headSha, truncated: false, tree }]],
    [
      "GET",
      new RegExp(`^${base}/branches/([^/?]+)`),
      (m) =>
        options.emptyRepository
          ? notFound
          : [200, { name: decodeURIComponent(m[1]!), commit: { sha: headSha, commit: { tree: { sha: headSha } } } }],
    ],
    [
      "GET",
      new RegExp(`^${base}/tarball/([^/?]+)`),
      (m) => {
        if (typeof options.tarball === "number") return [options.tarball, { message: "Not Found" }];
        return [302, "", { location: `${CODELOAD_PATH}/${owner}/${repo}/legacy.tar.gz/${m[1]}` }];
      },
    ],
    [
      "GET",
      new RegExp(`^${CODELOAD_PATH}/${owner}/${repo}/legacy\\.tar\\.gz/`),
      () => {
        archive ??=
          (options.tarball as Buffer | undefined) ??
          buildTarball(
            Object.entries(files).map(([path, content]) => ({ path, content })),
            `${owner}-${repo}-${headSha.slice(0, 7)}`,
          );
        return [200, archive, { "content-type": "application/x-gzip", "content-length": String(archive.length) }];
      },
    ],
    [
      "GET",
      new RegExp(`^${base}/readme`),
      () => {
        const path = Object.keys(files).find((p) => /^readme(\.md)?$/i.test(p));
        return path
          ? [200, { path, content: Buffer.from(files[path]!).toString("base64"), encoding: "base64" }]
          : notFound;
      },
    ],
    [
      "GET",
      new RegExp(`^${base}/git/blobs/([0-9a-f]+)`),
      (m) => {
        const path = bySha.get(m[1]!);
        return path ? [200, { content: Buffer.from(files[path]!).toString("base64"), encoding: "base64" }] : notFound;
      },
    ],
    ["GET", new RegExp(`^${base}/contents/`), () => notFound],
    [
      "POST",
      new RegExp(`^${base}/actions/workflows/[^/]+/dispatches`),
      (_m, body) => {
        if (!options.onDispatch) return notFound;
        options.onDispatch(body.inputs ?? {});
        const id = workflowRunId++;
        return [200, { workflow_run_id: id, run_url: `x/${id}`, html_url: `http://github.test/runs/${id}` }];
      },
    ],
  ];

  return {
    owner,
    repo,
    state,
    handle(method: string, path: string, body: RequestBody): Reply {
      state.requests.push(`${method} ${path}`);
      const refusal = state.refuse?.(method, path, body);
      if (refusal) return refusal;
      for (const [routeMethod, pattern, reply] of routes) {
        const match = routeMethod === method ? path.match(pattern) : null;
        if (match) return reply(match, body);
      }
      return [501, { message: `fake GitHub has no route for ${method} ${path}` }];
    },
    /** Comments Amistio posted that are not the tracking comment. */
    replies: () => state.comments.filter((c) => !c.body.includes("<!-- amistio:tracking")),
    tracking: () => state.comments.filter((c) => c.body.includes("<!-- amistio:tracking")),
  };
}

export type FakeGithubApi = ReturnType<typeof createFakeGithubApi>;

/** The fake API behind nock at api.github.com, for tests. */
export function fakeGithub(options: FakeGithubOptions = {}) {
  const api = createFakeGithubApi(options);
  const scope = nock("https://api.github.com").persist();
  const absolute = (reply: Reply): [number, nock.Body, Record<string, string>?] => {
    const [status, body, headers] = reply;
    if (headers?.location?.startsWith(CODELOAD_PATH)) {
      return [
        status,
        body as nock.Body,
        { ...headers, location: `https://codeload.github.com${headers.location.slice(CODELOAD_PATH.length)}` },
      ];
    }
    return reply as [number, nock.Body, Record<string, string>?];
  };
  for (const method of ["get", "post", "patch", "delete"] as const) {
    scope[method](/.*/).reply(function (uri, body) {
      const parsed = typeof body === "string" && body !== "" ? JSON.parse(body) : body;
      return absolute(api.handle(this.req.method, uri, parsed));
    });
  }
  nock("https://codeload.github.com")
    .persist()
    .get(/.*/)
    .reply((uri) => absolute(api.handle("GET", `${CODELOAD_PATH}${uri}`, {})));
  return { ...api, stop: () => nock.cleanAll() };
}

export type FakeGithub = ReturnType<typeof fakeGithub>;

/**
 * The fake API on a real HTTP server on 127.0.0.1, reached through Amistio's Enterprise Server
 * settings (GHE_HOST, GHE_PROTOCOL=http, so the API base is /api/v3). For benchmarks.
 */
export async function serveFakeGithub(options: FakeGithubOptions = {}) {
  const api = createFakeGithubApi(options);
  let host = "";
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const path = (request.url ?? "/").replace(/^\/api\/v3/, "");
      const [status, body, headers] = api.handle(request.method ?? "GET", path, raw ? JSON.parse(raw) : undefined);
      const text =
        body === undefined ? "" : typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      response
        .writeHead(status, {
          "content-type": typeof body === "string" ? "text/plain" : "application/json",
          ...headers,
          // The archive host is this same server, as on Enterprise Server.
          ...(headers?.location ? { location: `http://${host}${headers.location}` } : {}),
        })
        .end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  host = `127.0.0.1:${port}`;
  return {
    ...api,
    host,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The parts of an example payload this helper rewrites. */
type Payload = Record<string, unknown> & {
  repository: Record<string, unknown> & { owner: Record<string, unknown> };
  issue: Record<string, unknown>;
  comment: Record<string, unknown> & { user: Record<string, unknown> };
};

let nextComment = 1;

/** A real issue_comment.created payload, pointed at the fake repository and a given author and text. */
export function commentPayload(
  example: Record<string, unknown>,
  github: Pick<FakeGithubApi, "owner" | "repo">,
  input: { issue: number; author: string; body: string; authorType?: string; installationId?: number },
): Record<string, unknown> {
  const payload = structuredClone(example) as Payload;
  payload.installation = { id: input.installationId ?? 77 };
  payload.repository = {
    ...payload.repository,
    id: 4242,
    name: github.repo,
    full_name: `${github.owner}/${github.repo}`,
    private: true,
    owner: { ...payload.repository.owner, login: github.owner, id: 99, type: "Organization" },
  };
  payload.issue = { ...payload.issue, number: input.issue, title: `Issue ${input.issue}`, pull_request: undefined };
  const userId = 1000 + [...input.author].reduce((sum, c) => sum + c.charCodeAt(0), 0);
  const user = { ...payload.comment.user, login: input.author, id: userId, type: input.authorType ?? "User" };
  payload.comment = { ...payload.comment, id: 5_000_000 + nextComment++, body: input.body, user };
  payload.sender = user;
  return payload;
}
