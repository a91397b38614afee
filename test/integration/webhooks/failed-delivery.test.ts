import { afterEach, describe, expect, it } from "vitest";
import { NO_WAITS } from "../../../src/queue/retry-later.ts";
import { deliverWebhook } from "../../../src/webhooks/deliver-webhook.ts";
import { commentPayload, type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

const METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef";

describe("a delivery that fails for good is visible", () => {
  let amistio: TestAmistio;
  let github: FakeGithub;
  afterEach(async () => {
    await amistio?.close();
    github?.stop();
  });

  it("on the task's tracking comment (without the error's text), and in the metrics", async () => {
    github = fakeGithub({
      roles: { alice: "write", bob: "write" },
      issues: { 7: { title: "Add a widget cache", body: "- [ ] add cache", author: "alice" } },
      files: { "README.md": "# Widgets\n" },
    });
    amistio = await startTestAmistio({ env: { AMISTIO_METRICS_TOKEN: METRICS_TOKEN } });
    const example = webhookExample("issue_comment", "created");
    await amistio.deliver(
      "issue_comment",
      commentPayload(example, github, { issue: 7, author: "alice", body: "/amistio plan" }),
    );
    await amistio.drain();
    expect(github.tracking()).toHaveLength(1);

    // GitHub refuses the 👀 reaction on every try; this is the job's last one.
    github.state.refuse = (method, path) =>
      method === "POST" && path.endsWith("/reactions") ? [502, { message: "Bad Gateway secret-detail" }] : undefined;
    const payload = commentPayload(example, github, { issue: 7, author: "bob", body: "/amistio approve" });
    const { db, store } = amistio.database;
    await db.webhookDelivery.create({ data: { id: "failing-delivery", event: "issue_comment", status: "retrying" } });
    const handler = deliverWebhook({ db, store, probot: amistio.probot });
    const job = {
      id: "j",
      name: "webhook.deliver",
      attempt: 5,
      lastAttempt: true,
      waits: NO_WAITS,
      signal: new AbortController().signal,
    };
    await expect(
      handler({ deliveryId: "failing-delivery", event: "issue_comment", payload }, job),
    ).rejects.toBeDefined();

    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: "failing-delivery" } })).toMatchObject({
      status: "failed",
    });
    const tracking = github.tracking()[0]!.body;
    expect(tracking).toContain("could not act on an event for this task (delivery `failing-delivery`)");
    expect(tracking).toContain("npm run deliveries -- replay failing-delivery");
    expect(tracking).not.toContain("secret-detail");

    const metrics = await fetch(`${amistio.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(await metrics.text()).toMatch(/amistio_webhook_deliveries_unfinished\{status="failed"\} 1\b/);
  });
});
