import type { ProbotOctokit } from "probot";
import type { Metrics } from "../metrics/amistio-metrics.ts";
import type { RequestHook } from "./github-octokit.ts";

type GithubMetrics = Pick<Metrics, "countGithubRequest" | "setGithubRemaining">;

/** The words of GitHub's REST paths kept as they are; any other segment of a raw path becomes `{param}`. */
const PATH_WORDS = new Set(
  (
    "repos issues comments pulls reviews requested_reviewers check-runs check-suites actions runs jobs " +
    "workflows dispatches logs artifacts git refs ref heads tags trees commits blobs contents tarball zipball " +
    "installation installations repositories app access_tokens collaborators permission users user orgs " +
    "members memberships labels reactions events timeline branches protection statuses status merge merges " +
    "compare rate_limit graphql search code hooks deliveries attempts cancel rerun rerun-failed-jobs " +
    "pending_deployments approvals files readme languages topics teams"
  ).split(" "),
);

/**
 * A request's route as a bounded label: Octokit's template (`/repos/{owner}/{repo}/issues/{issue_number}`)
 * when the caller used one, else the raw path with owner, repo, numbers and any unknown segment
 * replaced by placeholders, so no name, id or file path ever becomes a label.
 */
export function githubRouteClass(url: string): string {
  const path = url.replace(/^[a-z]+:\/\/[^/]+/i, "").replace(/[?#].*$/, "");
  // Under GHES the API lives below /api/v3.
  const segments = path
    .replace(/^\/api\/v3(?=\/)/, "")
    .split("/")
    .filter(Boolean);
  const templated = segments.map((segment, index) => {
    if (/^\{[^{}]+\}$/.test(segment)) return segment;
    if (segments[0] === "repos" && index === 1) return "{owner}";
    if (segments[0] === "repos" && index === 2) return "{repo}";
    if (/^\d+$/.test(segment)) return "{id}";
    return PATH_WORDS.has(segment) ? segment : "{param}";
  });
  return `/${templated.slice(0, 10).join("/")}`;
}

function statusOf(value: unknown): number {
  const status = (value as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 100 && status < 600 ? status : 0;
}

function headersOf(value: unknown): Record<string, unknown> | undefined {
  const response = value as { headers?: Record<string, unknown>; response?: { headers?: Record<string, unknown> } };
  return response?.headers ?? response?.response?.headers;
}

/**
 * Probot's Octokit counting each request to GitHub by method, route class and status, and keeping
 * the `x-ratelimit-remaining` of each answer by rate limit resource (not by installation).
 * Recording is a counter increment and a gauge set: it adds nothing to a request's time.
 */
export function withGithubMetrics(base: typeof ProbotOctokit, metrics: GithubMetrics): typeof ProbotOctokit {
  const plugin = (octokit: RequestHook) => {
    octokit.hook.wrap("request", async (request, options) => {
      const method = String(options.method).toUpperCase();
      const route = githubRouteClass(String(options.url));
      const record = (outcome: unknown) => {
        metrics.countGithubRequest(method, route, statusOf(outcome));
        const headers = headersOf(outcome);
        const remaining = Number(headers?.["x-ratelimit-remaining"]);
        const resource = headers?.["x-ratelimit-resource"];
        if (headers?.["x-ratelimit-remaining"] !== undefined && Number.isFinite(remaining)) {
          metrics.setGithubRemaining(typeof resource === "string" ? resource : "core", remaining);
        }
      };
      try {
        const response = await request(options);
        record(response);
        return response;
      } catch (error) {
        record(error);
        throw error;
      }
    });
    return {};
  };
  return base.plugin(plugin as never) as unknown as typeof ProbotOctokit;
}
