// npm run bench:web — seeds a workspace with 100,000 runs and 1,000,000 audit events (see
// scripts/seed-bench-workspace.ts), starts Amistio's web role on it, and measures how fast
// /workspaces/:id and its audit page answer (target: p95 ≤ 100 ms), then prints the query plans of
// the queries behind them. BENCH_DATABASE_URL reuses a seeded database; BENCH_REQUESTS sets the sample.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import secureSession from "@fastify/secure-session";
import Fastify from "fastify";
import { pino } from "pino";
import { seedBenchWorkspace } from "../scripts/seed-bench-workspace.ts";
import { loadWebKeys } from "../src/auth/load-web-keys.ts";
import { readEnv } from "../src/config/env.ts";
import { createAmistio } from "../src/index.ts";
import { SESSION_COOKIE } from "../src/web/web-session.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const TARGET_P95_MS = 100;
const SESSION_SECRET = "bench-web-session-secret-0123456789abcdef";

const scratch = process.env.BENCH_DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), "amistio-bench-web-"));
const databaseUrl = process.env.BENCH_DATABASE_URL ?? `file:${join(scratch!, "bench.db")}`;
const privateKey = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

const env = readEnv({
  APP_ID: "1",
  PRIVATE_KEY: privateKey,
  WEBHOOK_SECRET: "bench",
  DATABASE_URL: databaseUrl,
  PORT: "0",
  HOST: "127.0.0.1",
  LOG_LEVEL: "silent",
  // The web role only: no worker and no retention timer competing for the database.
  AMISTIO_ROLE: "web",
  SESSION_SECRET,
});
const amistio = await createAmistio({ env, logger: pino({ level: "silent" }) });
const { db, target } = amistio.database;
console.log(`database: ${target.provider}${scratch ? " (temporary)" : ""}`);
const { workspaceId, viewerId } = await seedBenchWorkspace({
  db,
  provider: target.provider,
  log: (line) => console.log(`seed: ${line}`),
});
const counts = { runs: await db.run.count(), auditEvents: await db.auditEvent.count({ where: { workspaceId } }) };
console.log(`workspace ${workspaceId}: ${counts.runs} runs, ${counts.auditEvents} audit events`);
const url = (await amistio.start())!;

// A session cookie for the seeded viewer, encoded by the session library with the server's key.
const sessions = Fastify();
await sessions.register(secureSession, {
  key: loadWebKeys({ secret: SESSION_SECRET, dataDir: "/nonexistent" }).session,
});
await sessions.ready();
const cookie = `${SESSION_COOKIE}=${encodeURIComponent(
  sessions.encodeSecureSession(sessions.createSecureSession({ userId: viewerId, signedInAt: Date.now() })),
)}`;

async function get(path: string): Promise<{ status: number; ms: number; body: string }> {
  const started = performance.now();
  const response = await fetch(`${url}${path}`, { headers: { cookie } });
  const body = await response.text();
  return { status: response.status, ms: performance.now() - started, body };
}

// The audit page checks the whole chain in the background; measure once that check has finished,
// which is the steady state (a verdict is then reused for five minutes).
const verifyStarted = performance.now();
for (;;) {
  const page = await get(`/workspaces/${workspaceId}/audit`);
  if (page.status !== 200) throw new Error(`audit page answered ${page.status}`);
  if (page.body.includes("Verified: all")) break;
  if (page.body.includes("Broken at")) throw new Error("the seeded audit chain does not verify");
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(
  `whole-chain verification (background, once per 5 minutes): ${((performance.now() - verifyStarted) / 1000).toFixed(1)} s`,
);

const middleTask = await db.task.findFirstOrThrow({
  where: { workspaceId },
  orderBy: { createdAt: "asc" },
  skip: Math.floor((await db.task.count({ where: { workspaceId } })) / 2),
});
const middleSeq = Math.floor(counts.auditEvents / 2);
const pages = {
  "workspace, newest tasks": `/workspaces/${workspaceId}`,
  "workspace, a middle page": `/workspaces/${workspaceId}?after=${middleTask.createdAt.getTime()}_${middleTask.id}`,
  "audit log, newest events": `/workspaces/${workspaceId}/audit`,
  "audit log, a middle page": `/workspaces/${workspaceId}/audit?before=${middleSeq}`,
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
let failed = false;
console.log(`\n${REQUESTS} sequential requests per page, after 20 warm-up requests`);
console.log("page                          p50 ms   p95 ms   p99 ms   max ms   bytes");
for (const [name, path] of Object.entries(pages)) {
  for (let i = 0; i < 20; i++) await get(path);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const result = await get(path);
    if (result.status !== 200) throw new Error(`${path} answered ${result.status}`);
    times.push(result.ms);
    bytes = result.body.length;
  }
  times.sort((a, b) => a - b);
  const p95 = percentile(times, 95);
  if (p95 > TARGET_P95_MS) failed = true;
  console.log(
    `${name.padEnd(28)}${[50, 95, 99].map((p) => percentile(times, p).toFixed(1).padStart(9)).join("")}${times.at(-1)!.toFixed(1).padStart(9)}${String(bytes).padStart(8)}`,
  );
}

// The queries behind the pages, written out as Prisma issues them, with the plan the database chose.
const someTaskIds = (
  await db.task.findMany({ where: { workspaceId }, orderBy: { createdAt: "desc" }, take: 21, select: { id: true } })
).map((task) => task.id);
const planIds = (await db.planVersion.findMany({ where: { taskId: { in: someTaskIds } }, select: { id: true } })).map(
  (plan) => plan.id,
);
const list = (ids: string[]) => ids.map((id) => `'${id}'`).join(", ");
const queries: Record<string, string> = {
  membership: `SELECT "role" FROM "Membership" WHERE "userId" = '${viewerId}' AND "workspaceId" = '${workspaceId}'`,
  "tasks, first page": `SELECT "id" FROM "Task" WHERE "workspaceId" = '${workspaceId}' ORDER BY "createdAt" DESC, "id" DESC LIMIT 21`,
  "tasks, after a cursor": `SELECT "id" FROM "Task" WHERE "workspaceId" = '${workspaceId}' AND ("createdAt" < '${middleTask.createdAt.toISOString()}' OR ("createdAt" = '${middleTask.createdAt.toISOString()}' AND "id" < '${middleTask.id}')) ORDER BY "createdAt" DESC, "id" DESC LIMIT 21`,
  "plan versions of the page's tasks": `SELECT "id" FROM "PlanVersion" WHERE "taskId" IN (${list(someTaskIds)}) ORDER BY "version" DESC`,
  "approvals of those versions": `SELECT "id" FROM "Approval" WHERE "planVersionId" IN (${list(planIds)}) ORDER BY "createdAt" ASC`,
  "latest runs of the page's tasks (one branch per task)": someTaskIds
    .slice(0, 3)
    .map(
      (id, index) =>
        `SELECT * FROM (SELECT "id" FROM "Run" WHERE "taskId" = '${id}' ORDER BY "createdAt" DESC LIMIT 5) AS r${index}`,
    )
    .join(" UNION ALL "),
  "audit events, first page": `SELECT "seq" FROM "AuditEvent" WHERE "workspaceId" = '${workspaceId}' ORDER BY "seq" DESC LIMIT 51`,
  "audit events, before a seq": `SELECT "seq" FROM "AuditEvent" WHERE "workspaceId" = '${workspaceId}' AND "seq" < ${middleSeq} ORDER BY "seq" DESC LIMIT 51`,
  "audit chain head": `SELECT "seq" FROM "AuditEvent" ORDER BY "seq" DESC LIMIT 1`,
};
// seq is the primary key (SQLite's rowid): a backwards walk that stops at the first row, not a scan.
const oneRow = new Set(["audit chain head"]);
console.log("\nquery plans");
for (const [name, sql] of Object.entries(queries)) {
  const rows = (await db.$queryRawUnsafe(
    `${target.provider === "sqlite" ? "EXPLAIN QUERY PLAN" : "EXPLAIN"} ${sql}`,
  )) as Record<string, unknown>[];
  const plan = rows.map((row) => String(row.detail ?? row["QUERY PLAN"] ?? JSON.stringify(row)));
  const scans = plan.filter((line) => /^SCAN (?!.*USING)(?!r\d)|Seq Scan/.test(line.trim())); // r0, r1…: a branch's own few rows
  const note = oneRow.has(name)
    ? "  (primary key order, LIMIT 1: reads one row)"
    : scans.length > 0
      ? "  <-- full scan"
      : "";
  console.log(`- ${name}${note}`);
  for (const line of plan) console.log(`    ${line}`);
}

await sessions.close();
await amistio.stop();
if (scratch) rmSync(scratch, { recursive: true, force: true });
console.log(
  failed ? `\nFAIL: a page's p95 is above ${TARGET_P95_MS} ms` : `\nOK: every page's p95 is within ${TARGET_P95_MS} ms`,
);
process.exit(failed ? 1 : 0);
