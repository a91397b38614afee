// npm run bench:seed-web (or tsx scripts/seed-bench-workspace.ts): fills the database in DATABASE_URL
// with one workspace of BENCH_RUNS runs (default 100,000) and BENCH_AUDIT_EVENTS audit events
// (default 1,000,000) that form a valid hash chain, for bench/web.ts. Raw multi-row inserts inside
// transactions keep it to seconds, not hours.
import { pathToFileURL } from "node:url";
import canonicalize from "canonicalize";
import { GENESIS_HASH, hashAuditEvent } from "../src/audit/hash-audit-event.ts";
import { createDatabase, type Db } from "../src/db/create-database.ts";
import type { DatabaseTarget } from "../src/db/database-url.ts";

export const BENCH_INSTALLATION_ID = 424_242n;
export const BENCH_VIEWER_GITHUB_ID = 424_243n;

export interface SeedBenchWorkspaceOptions {
  db: Db;
  provider: DatabaseTarget["provider"];
  runs?: number;
  auditEvents?: number;
  runsPerTask?: number;
  log?: (line: string) => void;
}

export interface BenchWorkspace {
  workspaceId: string;
  viewerId: string;
}

type Cell = string | number | bigint | Date | boolean | null;
interface Column {
  name: string;
  /** PostgreSQL needs the type when a parameter is not text. */
  pg?: string;
}

const ROWS_PER_TRANSACTION = 20_000;
const START = Date.UTC(2026, 0, 1);

/** Creates the bench workspace, or finds the one made earlier in this database. */
export async function seedBenchWorkspace(options: SeedBenchWorkspaceOptions): Promise<BenchWorkspace> {
  const { db, provider } = options;
  const log = options.log ?? (() => {});
  const runs = options.runs ?? 100_000;
  const auditEvents = options.auditEvents ?? 1_000_000;
  const runsPerTask = options.runsPerTask ?? 10;

  const existing = await db.workspace.findUnique({ where: { installationId: BENCH_INSTALLATION_ID } });
  const viewer = await db.user.upsert({
    where: { githubId: BENCH_VIEWER_GITHUB_ID },
    update: {},
    create: { githubId: BENCH_VIEWER_GITHUB_ID, login: "bench-viewer", name: "Bench Viewer" },
  });
  if (existing) {
    log(`bench workspace already seeded (${existing.id})`);
    return { workspaceId: existing.id, viewerId: viewer.id };
  }
  const workspace = await db.workspace.create({
    data: {
      installationId: BENCH_INSTALLATION_ID,
      accountLogin: "bench-org",
      accountType: "Organization",
      accountId: 424_244n,
    },
  });
  await db.membership.create({ data: { userId: viewer.id, workspaceId: workspace.id, role: "admin" } });
  const repository = await db.repository.create({
    data: { workspaceId: workspace.id, githubId: 424_245n, fullName: "bench-org/bench-repo" },
  });

  const date = (ms: number): Cell =>
    // Stored the way Prisma's adapters store DateTime, so Prisma reads the rows back unchanged.
    provider === "sqlite"
      ? new Date(ms).toISOString().replace("Z", "+00:00")
      : new Date(ms).toISOString().replace("T", " ").replace("Z", "");
  const insert = (table: string, columns: Column[], rows: Iterable<Cell[]>) =>
    insertRows(db, provider, table, columns, rows);
  const dateColumn = (name: string): Column => ({ name, pg: "timestamp(3)" });

  // The unique hash columns take random keys: with SQLite's default 2 MB page cache, most inserts
  // would wait on disk. A larger cache for this connection makes the seeding several times faster.
  if (provider === "sqlite") await db.$executeRawUnsafe("PRAGMA cache_size = -262144");
  const tasks = Math.ceil(runs / runsPerTask);
  const started = performance.now();
  const taskId = (i: number) => `bench-task-${i.toString().padStart(7, "0")}`;
  const planId = (i: number) => `bench-plan-${i.toString().padStart(7, "0")}`;
  const taskTime = (i: number) => START + i * 60_000;
  await insert(
    "Task",
    [
      { name: "id" },
      { name: "workspaceId" },
      { name: "repositoryId" },
      { name: "number", pg: "integer" },
      { name: "title" },
      { name: "requesterId" },
      { name: "state" },
      dateColumn("createdAt"),
      dateColumn("updatedAt"),
    ],
    (function* () {
      for (let i = 0; i < tasks; i++) {
        yield [
          taskId(i),
          workspace.id,
          repository.id,
          i + 1,
          `Bench task ${i + 1}`,
          viewer.id,
          "done",
          date(taskTime(i)),
          date(taskTime(i)),
        ];
      }
    })(),
  );
  await insert(
    "PlanVersion",
    [
      { name: "id" },
      { name: "taskId" },
      { name: "version", pg: "integer" },
      { name: "contentHash" },
      { name: "content", pg: "jsonb" },
      { name: "source" },
      { name: "status" },
      dateColumn("createdAt"),
    ],
    (function* () {
      for (let i = 0; i < tasks; i++) {
        yield [
          planId(i),
          taskId(i),
          1,
          i.toString(16).padStart(64, "0"),
          "{}",
          "offline",
          "approved",
          date(taskTime(i) + 1000),
        ];
      }
    })(),
  );
  await insert(
    "Approval",
    [
      { name: "id" },
      { name: "planVersionId" },
      { name: "approverId" },
      { name: "contentHash" },
      { name: "permission" },
      dateColumn("createdAt"),
    ],
    (function* () {
      for (let i = 0; i < tasks; i++) {
        yield [
          `bench-approval-${i}`,
          planId(i),
          viewer.id,
          i.toString(16).padStart(64, "0"),
          "write",
          date(taskTime(i) + 2000),
        ];
      }
    })(),
  );
  await insert(
    "Run",
    [
      { name: "id" },
      { name: "taskId" },
      { name: "planVersionId" },
      { name: "contentHash" },
      { name: "status" },
      { name: "conclusion" },
      { name: "runnerName" },
      { name: "htmlUrl" },
      dateColumn("createdAt"),
      dateColumn("updatedAt"),
    ],
    (function* () {
      for (let r = 0; r < runs; r++) {
        const i = Math.floor(r / runsPerTask);
        const at = date(taskTime(i) + 3000 + (r % runsPerTask) * 1000);
        yield [
          `bench-run-${r.toString().padStart(7, "0")}`,
          taskId(i),
          planId(i),
          i.toString(16).padStart(64, "0"),
          "completed",
          "success",
          "bench-runner",
          `https://github.com/bench-org/bench-repo/actions/runs/${r}`,
          at,
          at,
        ];
      }
    })(),
  );
  log(
    `${tasks} tasks, ${tasks} plan versions and approvals, ${runs} runs in ${Math.round(performance.now() - started)} ms`,
  );

  const auditStarted = performance.now();
  const head = await db.auditEvent.findFirst({ orderBy: { seq: "desc" }, select: { seq: true, hash: true } });
  let prevHash = head?.hash ?? GENESIS_HASH;
  const firstSeq = (head?.seq ?? 0) + 1;
  await withoutSecondaryIndexes(db, provider, "AuditEvent", () =>
    insert(
      "AuditEvent",
      [
        { name: "seq", pg: "integer" },
        dateColumn("createdAt"),
        { name: "workspaceId" },
        { name: "actorId" },
        { name: "action" },
        { name: "target" },
        { name: "data" },
        { name: "prevHash" },
        { name: "hash" },
      ],
      (function* () {
        for (let n = 0; n < auditEvents; n++) {
          const record = {
            seq: firstSeq + n,
            createdAt: new Date(START + n * 1000),
            workspaceId: workspace.id,
            actorId: n % 3 === 0 ? null : viewer.id,
            action: n % 2 === 0 ? "run.status_changed" : "approval.granted",
            target: `run:bench-run-${(n % runs).toString().padStart(7, "0")}`,
            data: canonicalize({ status: "completed", attempt: 1 })!,
            deliveryId: null,
            prevHash,
          };
          const hash = hashAuditEvent(record);
          yield [
            record.seq,
            date(record.createdAt.getTime()),
            record.workspaceId,
            record.actorId,
            record.action,
            record.target,
            record.data,
            prevHash,
            hash,
          ];
          prevHash = hash;
        }
      })(),
    ),
  );
  log(`${auditEvents} audit events (hash-chained) in ${Math.round(performance.now() - auditStarted)} ms`);
  return { workspaceId: workspace.id, viewerId: viewer.id };
}

/**
 * Inserting into the unique hash indexes key by key (random keys) is what makes a million audit
 * rows slow; building each index once afterwards, from sorted keys, is many times faster. The exact
 * definitions are read from the database and re-run, so the schema's indexes come back unchanged.
 */
async function withoutSecondaryIndexes(
  db: Db,
  provider: DatabaseTarget["provider"],
  table: string,
  load: () => Promise<void>,
) {
  const indexes =
    provider === "sqlite"
      ? ((await db.$queryRawUnsafe(
          `SELECT name, sql AS definition FROM sqlite_master WHERE type = 'index' AND tbl_name = '${table}' AND sql IS NOT NULL`,
        )) as { name: string; definition: string }[])
      : ((await db.$queryRawUnsafe(
          `SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = '${table}' AND indexname <> '${table}_pkey'`,
        )) as { name: string; definition: string }[]);
  for (const index of indexes) await db.$executeRawUnsafe(`DROP INDEX "${index.name}"`);
  try {
    await load();
  } finally {
    for (const index of indexes) await db.$executeRawUnsafe(index.definition);
  }
}

async function insertRows(
  db: Db,
  provider: DatabaseTarget["provider"],
  table: string,
  columns: Column[],
  rows: Iterable<Cell[]>,
) {
  // Within the parameter limits (SQLite 32,766, PostgreSQL 65,535); larger statements measured slower.
  const perStatement = Math.floor(5_000 / columns.length);
  const names = columns.map((column) => `"${column.name}"`).join(", ");
  const statement = (count: number) => {
    let index = 0;
    const tuples = Array.from({ length: count }, () => {
      const cells = columns.map((column) =>
        provider === "sqlite" ? "?" : `$${++index}${column.pg ? `::${column.pg}` : ""}`,
      );
      return `(${cells.join(", ")})`;
    });
    return `INSERT INTO "${table}" (${names}) VALUES ${tuples.join(", ")}`;
  };
  const full = statement(perStatement);
  let batch: Cell[][] = [];
  const flush = async (tx: Pick<Db, "$executeRawUnsafe">) => {
    if (batch.length === 0) return;
    await tx.$executeRawUnsafe(batch.length === perStatement ? full : statement(batch.length), ...batch.flat());
    batch = [];
  };
  const iterator = rows[Symbol.iterator]();
  let done = false;
  while (!done) {
    await db.$transaction(
      async (tx) => {
        for (let inTransaction = 0; inTransaction < ROWS_PER_TRANSACTION; inTransaction++) {
          const next = iterator.next();
          if (next.done) {
            done = true;
            break;
          }
          batch.push(next.value);
          if (batch.length === perStatement) await flush(tx);
        }
        await flush(tx);
      },
      { timeout: 600_000, maxWait: 60_000 },
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const database = await createDatabase({ url: process.env.DATABASE_URL });
  try {
    const result = await seedBenchWorkspace({
      db: database.db,
      provider: database.target.provider,
      runs: process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : undefined,
      auditEvents: process.env.BENCH_AUDIT_EVENTS ? Number(process.env.BENCH_AUDIT_EVENTS) : undefined,
      log: console.log,
    });
    console.log(`workspace ${result.workspaceId}, viewer ${result.viewerId}`);
  } finally {
    await database.close();
  }
}
