import { randomUUID } from "node:crypto";
import { type ClientRequest, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { sign } from "@octokit/webhooks-methods";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EnvError, readEnv } from "../../../src/config/env.ts";
import { startTestAmistio, TEST_WEBHOOK_SECRET, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

describe("webhook intake over HTTP", () => {
  let amistio: TestAmistio;
  beforeEach(async () => {
    amistio = await startTestAmistio();
  });
  afterEach(async () => {
    await amistio.close();
  });

  const post = (body: string | Blob, headers: Record<string, string>) =>
    fetch(`${amistio.url}/api/github/webhooks`, { method: "POST", headers, body });

  it("records a signed delivery and queues its job before answering 202", async () => {
    const payload = { ...webhookExample("issue_comment", "created"), installation: { id: 4242 } };
    const id = randomUUID();
    const response = await amistio.deliver("issue_comment", payload, { id });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ status: "queued" });
    const { db } = amistio.database;
    const delivery = await db.webhookDelivery.findUniqueOrThrow({ where: { id } });
    expect(delivery).toMatchObject({ event: "issue_comment", action: "created" });
    expect(delivery.installationId).toBe(4242n);
    expect(await db.job.count({ where: { key: `delivery:${id}` } })).toBe(1);
  });

  it("acts on a delivery id once: a replay is acknowledged and not queued again", async () => {
    const payload = webhookExample("installation", "created");
    const id = randomUUID();
    expect((await amistio.deliver("installation", payload, { id })).status).toBe(202);
    await amistio.drain();
    const replay = await amistio.deliver("installation", payload, { id });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ status: "duplicate", delivery: "done" });
    const { db } = amistio.database;
    // One delivery job (the installation's repositories also get an index job each).
    expect(await db.job.count({ where: { name: "webhook.deliver" } })).toBe(1);
    expect(await db.auditEvent.count({ where: { action: "installation.created" } })).toBe(1);
    // Handled: the finished job keeps its row (the key still deduplicates) but not the payload.
    expect(
      await db.job.findFirstOrThrow({ where: { name: "webhook.deliver" }, include: { input: true } }),
    ).toMatchObject({
      status: "completed",
      input: null,
    });
    expect(await db.jobInput.count()).toBe(0);
  });

  it("still delivers a job queued by 0.1.0, which carried the payload as a string", async () => {
    const payload = webhookExample("installation", "created");
    const deliveryId = randomUUID();
    const { db } = amistio.database;
    await db.webhookDelivery.create({ data: { id: deliveryId, event: "installation", status: "queued" } });
    await amistio.queue.enqueue(
      "webhook.deliver",
      { deliveryId, event: "installation", body: JSON.stringify(payload) },
      { key: `delivery:${deliveryId}` },
    );
    await amistio.drain();
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } })).toMatchObject({ status: "done" });
    expect(await db.auditEvent.count({ where: { action: "installation.created" } })).toBe(1);
  });

  it("refuses forged, missing and SHA-1-only signatures with 401 and stores nothing", async () => {
    const body = JSON.stringify(webhookExample("issue_comment", "created"));
    const base = { "content-type": "application/json", "x-github-event": "issue_comment" };
    const forged = await post(body, {
      ...base,
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await sign("not-the-secret", body),
    });
    const missing = await post(body, { ...base, "x-github-delivery": randomUUID() });
    const sha1Only = await post(body, {
      ...base,
      "x-github-delivery": randomUUID(),
      "x-hub-signature": "sha1=0123456789abcdef0123456789abcdef01234567",
    });
    const tampered = await post(body.replace("created", "deleted"), {
      ...base,
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await sign(TEST_WEBHOOK_SECRET, body),
    });
    for (const response of [forged, missing, sha1Only, tampered]) expect(response.status).toBe(401);
    expect(((await sha1Only.json()) as { error: string }).error).toMatch(/SHA-1/);
    expect(await amistio.database.db.webhookDelivery.count()).toBe(0);
    expect(await amistio.database.db.job.count()).toBe(0);
  });

  it("answers 400 to signed bodies that are not JSON objects, and to a truncated body", async () => {
    for (const body of ["{not json", "[1,2]", "null"]) {
      const response = await post(body, {
        "content-type": "application/json",
        "x-github-event": "issues",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": await sign(TEST_WEBHOOK_SECRET, body),
      });
      expect(response.status, body).toBe(400);
    }
    const full = JSON.stringify(webhookExample("issues", "opened"));
    const truncated = full.slice(0, full.length / 2);
    const response = await post(truncated, {
      "content-type": "application/json",
      "x-github-event": "issues",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await sign(TEST_WEBHOOK_SECRET, full),
    });
    expect(response.status).toBe(401);
    expect(await amistio.database.db.webhookDelivery.count()).toBe(0);
  });

  it("answers 413 to a body over 25 MB without storing it", async () => {
    const big = new Blob([Buffer.alloc(25 * 1024 * 1024 + 10, 0x20)]);
    const response = await post(big, {
      "content-type": "application/json",
      "x-github-event": "issues",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toMatch(/25 MB/);
    expect(await amistio.database.db.webhookDelivery.count()).toBe(0);
  });

  /** Sends the headers and `first` bytes of a body; the answer may come before the rest is sent. */
  const partial = (headers: Record<string, string | number>, first: Buffer) => {
    let req!: ClientRequest;
    const answer = new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        req = httpRequest(`${amistio.url}/api/github/webhooks`, { method: "POST", headers, agent: false }, (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => {
            body += chunk.toString();
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on("error", reject);
        req.write(first);
      },
    );
    // A request the test destroys before its answer came rejects with "socket hang up": expected.
    answer.catch(() => undefined);
    return { req, answer };
  };
  const bogus = {
    "content-type": "application/json",
    "x-github-event": "issues",
    "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
  };

  it("refuses from the headers alone, before reading the body: no Content-Length 411, a bad one 400", async () => {
    // Chunked, so no Content-Length: GitHub always sends one.
    const chunked = partial(
      { ...bogus, "x-github-delivery": randomUUID(), "transfer-encoding": "chunked" },
      Buffer.from("{"),
    );
    const refused = await chunked.answer;
    chunked.req.destroy();
    expect(refused.status).toBe(411);
    expect(JSON.parse(refused.body)).toEqual({ error: "Content-Length is required (GitHub always sends it)" });
    // A Content-Length that is not a number never reaches the route: Node's HTTP parser answers 400.
    const { port } = new URL(amistio.url);
    const garbled = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), "127.0.0.1", () =>
        socket.write(
          `POST /api/github/webhooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: issues\r\nX-GitHub-Delivery: ${randomUUID()}\r\nX-Hub-Signature-256: ${bogus["x-hub-signature-256"]}\r\nContent-Length: 12abc\r\n\r\n{}`,
        ),
      );
      let answer = "";
      socket.on("data", (chunk) => {
        answer += chunk.toString();
      });
      socket.on("close", () => resolve(answer.split("\r\n")[0] ?? ""));
      socket.on("error", () => undefined);
      setTimeout(() => socket.destroy(), 5000);
    });
    expect(garbled).toBe("HTTP/1.1 400 Bad Request");
    // A body announced over 25 MB is refused before a byte of it is read.
    const huge = partial(
      { ...bogus, "x-github-delivery": randomUUID(), "content-length": 26 * 1024 * 1024 },
      Buffer.from("{"),
    );
    expect((await huge.answer).status).toBe(413);
    huge.req.destroy();
    expect(await amistio.database.db.webhookDelivery.count()).toBe(0);
    expect(amistio.server.webhookCounters.rejected).toBe(2);
  });

  it("reads at most 64 MiB of unverified bodies at once: past that 503 with Retry-After, ordinary deliveries still pass, and a client that leaves frees its share", async () => {
    const big = 24 * 1024 * 1024;
    const slow = [0, 1].map(() =>
      partial({ ...bogus, "x-github-delivery": randomUUID(), "content-length": big }, Buffer.alloc(1024, 0x20)),
    );
    // Until the two slow bodies' shares are taken, a third might still fit: ask until it does not.
    let third: Awaited<(typeof slow)[number]["answer"]> | undefined;
    for (let i = 0; i < 50 && third?.status !== 503; i++) {
      const attempt = partial({ ...bogus, "x-github-delivery": randomUUID(), "content-length": big }, Buffer.from("{"));
      const answered = await Promise.race([attempt.answer, new Promise<undefined>((r) => setTimeout(r, 100))]);
      attempt.req.destroy();
      third = answered;
    }
    expect(third?.status).toBe(503);
    expect(third?.headers["retry-after"]).toBe("10");
    expect(JSON.parse(third!.body).error).toMatch(/too many unverified bodies/);

    const ordinary = await amistio.deliver("issue_comment", webhookExample("issue_comment", "created"));
    expect(ordinary.status).toBe(202);

    for (const { req } of slow) req.destroy();
    // Their shares come back once the server sees them gone: a full bogus body is then read and refused 401.
    let status = 0;
    for (let i = 0; i < 50 && status !== 401; i++) {
      const response = await post(new Blob([Buffer.alloc(big, 0x20)]), { ...bogus, "x-github-delivery": randomUUID() });
      status = response.status;
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(401);
    expect(await amistio.database.db.webhookDelivery.count()).toBe(1);
  });

  it("acknowledges events it does not handle, counts them, and queues nothing", async () => {
    const response = await amistio.deliver("star", { action: "created", installation: { id: 1 } });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ status: "ignored" });
    expect(amistio.server.webhookCounters.ignored).toBe(1);
    expect(await amistio.database.db.webhookDelivery.count({ where: { status: "ignored" } })).toBe(1);
    expect(await amistio.database.db.job.count()).toBe(0);
  });

  it("answers a ping without queueing work", async () => {
    const response = await amistio.deliver("ping", webhookExample("ping"));
    expect(response.status).toBe(200);
    expect(await amistio.database.db.job.count()).toBe(0);
  });

  it("reports health and readiness", async () => {
    await amistio.deliver("issue_comment", webhookExample("issue_comment", "created"));
    const health = await fetch(`${amistio.url}/healthz`);
    expect(health.status).toBe(200);
    // Liveness only: anyone can reach it, so no counts.
    expect(await health.json()).toEqual({ status: "ok" });
    // Without AMISTIO_METRICS_TOKEN there is no /metrics at all.
    expect((await fetch(`${amistio.url}/metrics`)).status).toBe(404);
    const ready = await fetch(`${amistio.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", database: "ok", queue: "ok" });
  });

  it("is not ready, and refuses deliveries with 503, once the database connection intake writes on is gone", async () => {
    // Closing the database ends the hot-path thread for good; Prisma's client would reconnect.
    await amistio.database.close();
    const ready = await fetch(`${amistio.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "not ready", database: "unreachable" });
    const response = await amistio.deliver("issue_comment", webhookExample("issue_comment", "created"));
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: "could not record the delivery; redeliver it later" });
  });
});

describe("GET /metrics", () => {
  const token = `${"m".repeat(20)}0123456789abcdef`;
  let amistio: TestAmistio;
  beforeEach(async () => {
    amistio = await startTestAmistio({ env: { AMISTIO_METRICS_TOKEN: token } });
  });
  afterEach(async () => {
    await amistio.close();
  });

  const metrics = (authorization?: string) =>
    fetch(`${amistio.url}/metrics`, { headers: authorization ? { authorization } : {} });

  it("counts deliveries by event and outcome in Prometheus' text format, for the token's holder only", async () => {
    const payload = webhookExample("issue_comment", "created");
    const id = randomUUID();
    await amistio.deliver("issue_comment", payload, { id });
    await amistio.deliver("issue_comment", payload, { id });
    await amistio.deliver("star", { action: "created" });
    // An event name the sender made up is counted as "other": the header is not signed.
    await amistio.deliver("made_up_event", { action: "x" });
    await fetch(`${amistio.url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": randomUUID() },
      body: "{}",
    });

    for (const wrong of [
      undefined,
      `Bearer ${token}x`,
      `Bearer ${token.slice(1)}`,
      `Basic ${token}`,
      token,
      "Bearer ",
    ]) {
      const refused = await metrics(wrong);
      expect(refused.status, String(wrong)).toBe(401);
      expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await refused.text()).not.toContain("amistio_webhook");
    }
    const answer = await metrics(`Bearer ${token}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await answer.text();
    expect(text).toContain("# TYPE amistio_webhook_deliveries_total counter");
    expect(text).toContain('amistio_webhook_deliveries_total{event="issue_comment",outcome="accepted"} 1');
    expect(text).toContain('amistio_webhook_deliveries_total{event="issue_comment",outcome="duplicate"} 1');
    expect(text).toContain('amistio_webhook_deliveries_total{event="other",outcome="ignored"} 2');
    expect(text).toContain('amistio_webhook_deliveries_total{event="issues",outcome="rejected"} 1');
    expect(text).not.toContain("made_up_event");
    expect((await fetch(`${amistio.url}/healthz`).then((r) => r.json())) as object).toEqual({ status: "ok" });
  });

  it("AMISTIO_METRICS_TOKEN must be a long, header-safe token", () => {
    const base = { DATABASE_URL: "file::memory:" };
    expect(readEnv({ ...base, AMISTIO_METRICS_TOKEN: token }).AMISTIO_METRICS_TOKEN).toBe(token);
    expect(readEnv({ ...base, AMISTIO_METRICS_TOKEN: "" }).AMISTIO_METRICS_TOKEN).toBeUndefined();
    for (const bad of ["short", `${"a".repeat(32)} b`, `${"é".repeat(32)}`]) {
      expect(() => readEnv({ ...base, AMISTIO_METRICS_TOKEN: bad }), bad).toThrow(EnvError);
    }
    expect(() => readEnv({ ...base, AMISTIO_METRICS_TOKEN: "short" })).toThrow(
      /AMISTIO_METRICS_TOKEN: must be at least 32/,
    );
  });
});
