import { createHash } from "node:crypto";
import nock from "nock";

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
}

const PERMISSION_OF: Record<string, string> = {
  admin: "admin",
  maintain: "write",
  write: "write",
  triage: "read",
  read: "read",
};

/**
 * GitHub's REST API for one repository, played by nock: what Amistio reads comes from the options,
 * what it writes (comments, reactions, edits) is kept so tests can assert on it.
 */
export function fakeGithub(options: FakeGithubOptions = {}) {
  const owner = options.owner ?? "octo-org";
  const repo = options.repo ?? "widgets";
  const files = options.files ?? {};
  const state = {
    comments: [] as FakeComment[],
    reactions: [] as { commentId: number; content: string }[],
    edits: 0,
    requests: [] as string[],
  };
  let nextId = 9_000_000_001;
  const sha = (path: string) => createHash("sha1").update(path).digest("hex");
  const base = `/repos/${owner}/${repo}`;
  const api = nock("https://api.github.com").persist();
  api.on("request", (request: { method: string; path: string }) =>
    state.requests.push(`${request.method} ${request.path}`),
  );

  api
    .get(new RegExp(`^/repos/${owner}/(${repo}|\\.github)/contents/(\\.github%2F|\\.github/)amistio\\.yml`))
    .reply((uri) =>
      uri.startsWith(base) && options.settings !== undefined
        ? [200, options.settings] // Probot's config plugin asks for the raw file
        : [404, { message: "Not Found" }],
    );
  api.get(new RegExp(`^${base}/collaborators/([^/]+)/permission`)).reply((uri) => {
    const login = decodeURIComponent(uri.split("/")[5] ?? "");
    const role = options.roles?.[login];
    return role
      ? [200, { permission: PERMISSION_OF[role], role_name: role, user: { login } }]
      : [404, { message: "Not Found" }];
  });
  api.post(new RegExp(`^${base}/(issues|pulls)/comments/(\\d+)/reactions`)).reply((uri, body) => {
    state.reactions.push({ commentId: Number(uri.split("/")[6]), content: (body as { content: string }).content });
    return [201, { id: 1, content: (body as { content: string }).content }];
  });
  api.post(new RegExp(`^${base}/issues/(\\d+)/comments`)).reply((_uri, body) => {
    const comment = {
      id: nextId++,
      body: (body as { body: string }).body,
      user: { login: "amistio[bot]", type: "Bot" },
    };
    state.comments.push(comment);
    return [201, comment];
  });
  api.patch(new RegExp(`^${base}/issues/comments/(\\d+)`)).reply((uri, body) => {
    const comment = state.comments.find((c) => c.id === Number(uri.split("/").pop()));
    if (!comment) return [404, { message: "Not Found" }];
    comment.body = (body as { body: string }).body;
    state.edits++;
    return [200, comment];
  });
  api.delete(new RegExp(`^${base}/issues/comments/(\\d+)`)).reply((uri) => {
    state.comments = state.comments.filter((c) => c.id !== Number(uri.split("/").pop()));
    return [204];
  });
  api.get(new RegExp(`^${base}/issues/(\\d+)/comments`)).reply(() => [200, state.comments]);
  api.get(new RegExp(`^${base}/issues/(\\d+)$`)).reply((uri) => {
    const number = Number(uri.split("/").pop());
    const issue = options.issues?.[number] ?? { title: `Issue ${number}`, body: "", author: "alice" };
    return [200, { number, title: issue.title, body: issue.body, labels: [], user: { login: issue.author } }];
  });
  api.get(new RegExp(`^${base}$`)).reply(200, { default_branch: "main", full_name: `${owner}/${repo}` });
  api.get(new RegExp(`^${base}/git/trees/`)).reply(200, {
    truncated: false,
    tree: Object.entries(files).map(([path, text]) => ({ path, type: "blob", sha: sha(path), size: text.length })),
  });
  api.get(new RegExp(`^${base}/readme`)).reply(() => {
    const path = Object.keys(files).find((p) => /^readme(\.md)?$/i.test(p));
    return path
      ? [200, { path, content: Buffer.from(files[path]!).toString("base64"), encoding: "base64" }]
      : [404, { message: "Not Found" }];
  });
  api.get(new RegExp(`^${base}/git/blobs/([0-9a-f]+)`)).reply((uri) => {
    const wanted = uri.split("/").pop();
    const path = Object.keys(files).find((p) => sha(p) === wanted);
    return path
      ? [200, { content: Buffer.from(files[path]!).toString("base64"), encoding: "base64" }]
      : [404, { message: "Not Found" }];
  });
  api.get(new RegExp(`^${base}/contents/`)).reply(() => [404, { message: "Not Found" }]);

  return {
    owner,
    repo,
    state,
    /** Comments Amistio posted that are not the tracking comment. */
    replies: () => state.comments.filter((c) => !c.body.includes("<!-- amistio:tracking")),
    tracking: () => state.comments.filter((c) => c.body.includes("<!-- amistio:tracking")),
    stop: () => nock.cleanAll(),
  };
}

export type FakeGithub = ReturnType<typeof fakeGithub>;

let nextDelivery = 1;

/** A real issue_comment.created payload, pointed at the fake repository and a given author and text. */
export function commentPayload(
  example: Record<string, unknown>,
  github: FakeGithub,
  input: { issue: number; author: string; body: string; authorType?: string; installationId?: number },
): Record<string, unknown> {
  const payload = structuredClone(example) as Record<string, any>;
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
  payload.comment = { ...payload.comment, id: 5_000_000 + nextDelivery++, body: input.body, user };
  payload.sender = user;
  return payload;
}
