// npm run deliveries -- list [--status stuck|failed|retrying] [--since <ISO time>]
// npm run deliveries -- replay <delivery id...> | --failed-since <ISO time>
// Lists stuck, retrying and failed webhook deliveries, and queues chosen ones again, with the
// delivery id as the job's key: a delivery whose job is still queued or running gets no second one,
// and one already done is not replayed. Uses DATABASE_URL, and REDIS_URL when the app uses BullMQ.
// Exit 0: done. Exit 1: some deliveries were not replayed. Exit 2: bad arguments or no database.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { createQueue } from "../src/queue/create-queue.ts";
import { failedSince, type ListedStatus, listDeliveries, replayDeliveries } from "../src/webhooks/delivery-tools.ts";
import { openScriptDatabase, UsageError } from "./open-script-database.ts";

const USAGE = `usage: npm run deliveries -- list [--status stuck|failed|retrying] [--since <ISO time>]
       npm run deliveries -- replay <delivery id...> | --failed-since <ISO time>`;

function isoTime(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new UsageError(`${flag} must be an ISO time, such as 2026-12-05T10:00:00Z`);
  return time;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseCommand>;
  try {
    parsed = parseCommand();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const database = await openScriptDatabase();
  const logger = pino({ level: "warn" });
  const queue = await createQueue({
    redisUrl: process.env.REDIS_URL || undefined,
    store: database.store,
    logger,
  });
  try {
    if (parsed.command === "list") {
      const listed = await listDeliveries(database.db, queue, { status: parsed.status, since: parsed.since });
      for (const row of listed) {
        const what = row.action ? `${row.event}.${row.action}` : row.event;
        const error = row.error ? `  ${row.error.replaceAll("\n", " ").slice(0, 120)}` : "";
        console.log(`${row.id}  ${row.status}  ${what}  ${row.receivedAt.toISOString()}  job:${row.job}${error}`);
      }
      console.error(`${listed.length} deliveries`);
      return 0;
    }
    const ids = parsed.failedSince ? await failedSince(database.db, parsed.failedSince) : parsed.ids;
    const outcomes = await replayDeliveries(database.db, queue, ids);
    for (const outcome of outcomes) {
      const detail =
        outcome.outcome === "refused"
          ? `not replayed: ${outcome.reason}`
          : outcome.outcome === "already queued"
            ? `already queued (job ${outcome.job}); nothing added`
            : "queued";
      console.log(`${outcome.id}  ${detail}`);
    }
    const refused = outcomes.filter((outcome) => outcome.outcome === "refused").length;
    console.error(`${outcomes.length - refused} queued or already queued, ${refused} not replayed`);
    return refused > 0 ? 1 : 0;
  } finally {
    await queue.close();
    await database.close();
  }
}

function parseCommand():
  | { command: "list"; status?: ListedStatus; since?: Date }
  | { command: "replay"; ids: string[]; failedSince?: Date } {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { status: { type: "string" }, since: { type: "string" }, "failed-since": { type: "string" } },
  });
  const [command, ...rest] = positionals;
  if (command === "list") {
    if (rest.length > 0 || values["failed-since"]) throw new Error("list takes only --status and --since");
    const status = values.status;
    if (status !== undefined && status !== "stuck" && status !== "failed" && status !== "retrying") {
      throw new Error("--status must be stuck, failed or retrying");
    }
    return { command, status, since: isoTime(values.since, "--since") };
  }
  if (command === "replay") {
    if (values.status || values.since) throw new Error("replay takes delivery ids or --failed-since");
    const since = isoTime(values["failed-since"], "--failed-since");
    if (rest.length > 0 === (since !== undefined))
      throw new Error("replay takes delivery ids or --failed-since, one of them");
    return { command, ids: rest, failedSince: since };
  }
  throw new Error(command ? `unknown command "${command}"` : "a command is required");
}

try {
  process.exitCode = await main();
} catch (error) {
  if (error instanceof UsageError) console.error(`${error.message}\n${USAGE}`);
  else console.error(`deliveries failed: ${(error as Error).message}`);
  process.exitCode = 2;
}
