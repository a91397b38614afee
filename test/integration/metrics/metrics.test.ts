import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { githubRouteClass } from "../../../src/github/github-metrics.ts";
import { commentPayload, type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

const METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef";

/** The value of one sample line, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** `null`: no Authorization header at all. */
async function scrape(url: string, token: string | null = METRICS_TOKEN): Promise<Response> {
  return fetch(`${url}/metrics`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
}

describe("/metrics after a short flow", () => {
  let amistio: TestAmistio | undefined;
  let github: FakeGithub | undefined;
  afterEach(async () => {
    await amistio?.close();
    github?.stop();
    amistio = undefined;
  });

  it("moves deliveries, intake time, job duration and wait, GitHub requests by route class, plans and refusals", async () => {
    github = fakeGithub({
      roles: { alice: "write" },
      issues: { 7: { title: "Add a widget cache", body: "- [ ] add cache", author: "alice" } },
      files: { "README.md": "# Widgets\n" },
    });
    amistio = await startTestAmistio({ env: { AMISTIO_METRICS_TOKEN: METRICS_TOKEN } });
    const example = webhookExample("issue_comment", "created");
    const send = (body: string) =>
      amistio!.deliver("issue_comment", commentPayload(example, github!, { issue: 7, author: "alice", body }));
    expect((await send("/amistio plan")).status).toBe(202);
    await amistio.drain();
    expect((await send("/amistio approve v9")).status).toBe(202);
    await amistio.drain();
    // An event header nobody handles, and a forged one: counted under "other", never as a new label.
    await amistio.deliver("made_up_event_one", { zen: "x" });
    await amistio.deliver("made_up_event_two", { zen: "x" });

    const response = await scrape(amistio.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    if (process.env.METRICS_SAMPLE_FILE) (await import("node:fs")).writeFileSync(process.env.METRICS_SAMPLE_FILE, text);

    expect(sample(text, 'amistio_webhook_deliveries_total{event="issue_comment",outcome="accepted"}')).toBe(2);
    expect(sample(text, 'amistio_webhook_deliveries_total{event="other",outcome="ignored"}')).toBe(2);
    expect(text).not.toContain("made_up_event");
    expect(sample(text, 'amistio_webhook_response_seconds_count{outcome="accepted"}')).toBe(2);
    expect(sample(text, 'amistio_job_duration_seconds_count{name="webhook.deliver",outcome="succeeded"}')).toBe(2);
    expect(sample(text, 'amistio_job_queue_wait_seconds_count{name="webhook.deliver"}')).toBe(2);
    expect(sample(text, 'amistio_plans_total{outcome="created"}')).toBe(1);
    expect(sample(text, 'amistio_approvals_refused_total{reason="unknown_version"}')).toBe(1);
    expect(sample(text, "amistio_audit_chain_length")).toBeGreaterThan(0);

    // GitHub requests by method, route template and status: the plan comment and the tracking comment.
    const posted = sample(
      text,
      'amistio_github_requests_total{method="POST",route="/repos/{owner}/{repo}/issues/{issue_number}/comments",status="201"}',
    );
    expect(posted).toBeGreaterThanOrEqual(2);
    // No owner, repository name, issue number or comment id in any label.
    const routes = [...text.matchAll(/route="([^"]*)"/g)].map((match) => match[1]!);
    expect(routes.length).toBeGreaterThan(0);
    for (const route of routes) {
      expect(route).not.toContain(github.owner);
      expect(route).not.toContain(github.repo);
      expect(route).not.toMatch(/\/\d+(\/|$)/);
    }
    expect(text).not.toContain("alice");
  });

  it("refuses a scraper without the token, or with a wrong one, and reveals nothing", async () => {
    amistio = await startTestAmistio({ env: { AMISTIO_METRICS_TOKEN: METRICS_TOKEN } });
    const attempts = [
      await scrape(amistio.url, null),
      await scrape(amistio.url, "wrong-token-wrong-token-wrong-token-00"),
      await scrape(amistio.url, `${METRICS_TOKEN}x`),
      await fetch(`${amistio.url}/metrics?token=${METRICS_TOKEN}`),
      await fetch(`${amistio.url}/metrics`, { headers: { authorization: `Basic ${METRICS_TOKEN}` } }),
    ];
    for (const refused of attempts) {
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toContain("amistio_");
    }
  });
});

describe("a worker's own port", () => {
  let amistio: TestAmistio | undefined;
  afterEach(async () => {
    await amistio?.close();
    amistio = undefined;
  });

  it("serves /healthz, /readyz and /metrics on 127.0.0.1 and nothing on the web port", async () => {
    amistio = await startTestAmistio({
      env: { AMISTIO_ROLE: "worker", AMISTIO_WORKER_PORT: "0", AMISTIO_METRICS_TOKEN: METRICS_TOKEN },
    });
    expect(amistio.server.server.listening).toBe(false);
    const address = amistio.workerServer.server.address() as AddressInfo;
    expect(address.address).toBe("127.0.0.1");
    const url = `http://127.0.0.1:${address.port}`;

    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", database: "ok", queue: "ok" });

    for (const refused of [await scrape(url, null), await scrape(url, "not-the-token-not-the-token-not-the")]) {
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
      expect(await refused.text()).not.toContain("amistio_");
    }
    const metrics = await scrape(url);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain("# TYPE amistio_job_duration_seconds histogram");
    expect(text).toContain("# TYPE amistio_jobs gauge");
    expect(text).toContain("amistio_audit_chain_length 0");
    // A worker takes no webhooks: the web port's other routes are not on this one.
    expect((await fetch(`${url}/api/github/webhooks`, { method: "POST" })).status).toBe(404);
  });

  it("without a token, a worker's /metrics does not exist (404), as on the web port", async () => {
    amistio = await startTestAmistio({ env: { AMISTIO_ROLE: "worker", AMISTIO_WORKER_PORT: "0" } });
    const address = amistio.workerServer.server.address() as AddressInfo;
    expect((await fetch(`http://127.0.0.1:${address.port}/metrics`)).status).toBe(404);
  });
});

describe("GitHub route classes", () => {
  it("keeps Octokit's templates and turns raw paths into templates", () => {
    expect(githubRouteClass("/repos/{owner}/{repo}/issues/{issue_number}/comments")).toBe(
      "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    );
    expect(githubRouteClass("https://api.github.com/repos/acme/widgets/issues/7/comments?page=2")).toBe(
      "/repos/{owner}/{repo}/issues/{id}/comments",
    );
    expect(githubRouteClass("https://ghe.example.com/api/v3/repos/acme/widgets/contents/src/secret-name.ts")).toBe(
      "/repos/{owner}/{repo}/contents/{param}/{param}",
    );
    expect(githubRouteClass("/app/installations/12345/access_tokens")).toBe("/app/installations/{id}/access_tokens");
    expect(githubRouteClass("/users/alice")).toBe("/users/{param}");
  });
});
