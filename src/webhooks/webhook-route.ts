import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from "fastify";
import type { IntakeStore } from "../db/delivery-job-store.ts";
import { type Metrics, secondsSince } from "../metrics/amistio-metrics.ts";
import type { DeliveryRecorder, IncomingDelivery } from "./delivery-recorder.ts";
import { isHandledEvent } from "./handled-events.ts";
import { createUnverifiedBudget, readSignedBody } from "./read-signed-body.ts";

/** GitHub caps webhook payloads at 25 MB. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
/**
 * Bytes of bodies whose signature is not yet checked that intake holds at once: two near-largest
 * deliveries, or thousands of ordinary ones (10–50 KB). Past it, a request is answered 503 at once.
 */
export const MAX_UNVERIFIED_BYTES = 64 * 1024 * 1024;
/** Reading one body may take this long; GitHub itself gives up on the whole delivery after 10 s (30 s on GHES). */
const READ_TIMEOUT_MS = 30_000;
/** A body is counted at least this size against the budget, so empty-ish requests cannot go unbounded. */
const MIN_BUDGET_BYTES = 16 * 1024;

/** What became of a request, counted by event at /metrics. */
export type WebhookOutcome = "accepted" | "duplicate" | "ignored" | "rejected";

export interface WebhookCounters {
  accepted: number;
  duplicate: number;
  ignored: number;
  rejected: number;
}

export interface WebhookRouteOptions {
  path: string;
  /** Counted in memory for tests and logs; ignored deliveries are also stored with status "ignored". */
  counters: WebhookCounters;
  /** The same counts by event, and the time to each 2xx answer, served at /metrics. */
  metrics: Pick<Metrics, "countDelivery" | "observeWebhookResponse">;
  secret: string;
  store: IntakeStore;
  recorder: DeliveryRecorder;
  /** Defaults to MAX_UNVERIFIED_BYTES. */
  maxUnverifiedBytes?: number;
}

const DELIVERY_ID = /^[0-9a-zA-Z-]{1,100}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;
const SIGNATURE = /^sha256=([0-9a-f]{64})$/;
const CONTENT_LENGTH = /^\d{1,15}$/;

/**
 * Webhook intake: verify, dedupe by X-GitHub-Delivery, record, enqueue, answer. It never waits for
 * GitHub or an AI model, so the 2xx is well inside GitHub's 10 s limit.
 */
export async function webhookRoute(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { store, recorder, secret, counters, metrics } = options;
  const budget = createUnverifiedBudget(options.maxUnverifiedBytes ?? MAX_UNVERIFIED_BYTES);
  const count = (event: string | undefined, outcome: WebhookOutcome) => {
    counters[outcome]++;
    metrics.countDelivery(event, outcome);
  };

  await app.register(async (scope) => {
    // The signature covers the exact bytes, so the route reads the body itself, checking the HMAC as
    // the bytes arrive, and parses it only once the signature is good. No parser of Fastify's reads it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));

    scope.post(options.path, async (request, reply) => {
      const started = process.hrtime.bigint();
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === "string" ? value : undefined;
      };
      const deliveryId = header("x-github-delivery");
      const event = header("x-github-event");
      const signature = header("x-hub-signature-256");
      // Fields on each line rather than child loggers: a child costs its bindings' serialisation even
      // when the level is off, and intake writes one line per delivery.
      const about = { deliveryId, event };
      const refuse = (status: number, message: string, extra: Record<string, unknown> = {}) => {
        count(event, "rejected");
        request.log.warn({ ...about, ...extra, status }, `webhook refused: ${message}`);
        return reply.code(status).send({ error: message });
      };

      // Everything the headers can tell is checked before a byte of the body is read.
      if (!signature) {
        return header("x-hub-signature")
          ? refuse(401, "X-Hub-Signature-256 is required; SHA-1 signatures are not accepted")
          : refuse(401, "missing X-Hub-Signature-256 header: set a webhook secret on the GitHub App");
      }
      const expected = SIGNATURE.exec(signature)?.[1];
      if (!expected) return refuse(401, "X-Hub-Signature-256 must be sha256=<64 hex digits>");
      const contentLength = header("content-length");
      if (contentLength === undefined) {
        return refuse(411, "Content-Length is required (GitHub always sends it)");
      }
      if (!CONTENT_LENGTH.test(contentLength)) return refuse(400, "Content-Length is not a number");
      const length = Number(contentLength);
      if (length === 0) return refuse(400, "empty body");
      if (length > MAX_WEBHOOK_BYTES) {
        return refuse(413, "body too large: GitHub webhook payloads are at most 25 MB", { length });
      }
      if (!deliveryId || !DELIVERY_ID.test(deliveryId))
        return refuse(400, "missing or malformed X-GitHub-Delivery header");
      if (!event || !EVENT_NAME.test(event)) return refuse(400, "missing or malformed X-GitHub-Event header");
      if (!(request.headers["content-type"] ?? "").startsWith("application/json")) {
        return refuse(415, "content type must be application/json (set it in the GitHub App's webhook settings)");
      }

      const release = budget.take(Math.max(length, MIN_BUDGET_BYTES));
      if (!release) {
        reply.header("retry-after", "10");
        return refuse(503, "too many unverified bodies are being read; redeliver it shortly", { length });
      }
      let read: Awaited<ReturnType<typeof readSignedBody>>;
      try {
        read = await readSignedBody(request.raw, {
          secret,
          expected: Buffer.from(expected, "hex"),
          timeoutMs: READ_TIMEOUT_MS,
        });
      } finally {
        release();
      }
      if (!read.ok) {
        if (read.reason === "signature") {
          return refuse(401, "signature does not match: check that WEBHOOK_SECRET equals the App's webhook secret");
        }
        // The client is gone, or too slow to be worth waiting for: nothing is kept of what it sent.
        reply.header("connection", "close");
        return read.reason === "timeout"
          ? refuse(408, "the body did not arrive in time", { length, received: read.received })
          : refuse(400, "the body ended before its Content-Length", { length, received: read.received });
      }
      const text = read.body.toString("utf8");
      let payload: { action?: unknown; installation?: { id?: unknown } };
      try {
        payload = JSON.parse(text);
      } catch {
        return refuse(400, "body is not valid JSON");
      }
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
        return refuse(400, "body must be a JSON object");
      }

      const action = typeof payload.action === "string" ? payload.action.slice(0, 64) : null;
      const rawInstallation = payload.installation?.id;
      const installationId = typeof rawInstallation === "number" ? BigInt(rawInstallation) : null;
      const aboutDelivery = { ...about, installationId: rawInstallation ?? null };

      if (event === "ping") {
        request.log.info(aboutDelivery, "webhook ping");
        metrics.observeWebhookResponse("ping", secondsSince(started));
        return reply.code(200).send({ status: "pong" });
      }
      if (!isHandledEvent(event)) {
        count(event, "ignored");
        await store.recordIgnoredDelivery({ id: deliveryId, event, action, installationId }, new Date());
        request.log.info(aboutDelivery, "webhook ignored: Amistio does not handle this event");
        metrics.observeWebhookResponse("ignored", secondsSince(started));
        return reply.code(202).send({ status: "ignored" });
      }
      return accept(
        reply,
        { deliveryId, event, action, installationId, body: text, payload },
        request.log,
        aboutDelivery,
        started,
      );
    });
  });

  async function accept(
    reply: FastifyReply,
    delivery: IncomingDelivery,
    log: FastifyBaseLogger,
    about: Record<string, unknown>,
    started: bigint,
  ) {
    const result = await recorder.record(delivery);
    if (result.outcome === "duplicate") {
      count(delivery.event, "duplicate");
      log.info({ ...about, status: result.status }, "webhook duplicate: this delivery id was already received");
      metrics.observeWebhookResponse("duplicate", secondsSince(started));
      return reply.code(200).send({ status: "duplicate", delivery: result.status });
    }
    if (result.outcome === "unavailable") {
      log.error({ ...about, err: result.error }, "webhook not recorded: the database or queue is unavailable");
      return reply.code(503).send({ error: "could not record the delivery; redeliver it later" });
    }
    count(delivery.event, "accepted");
    log.info({ ...about, action: delivery.action, redelivered: result.redelivered }, "webhook accepted");
    metrics.observeWebhookResponse("accepted", secondsSince(started));
    return reply.code(202).send({ status: "queued" });
  }
}
