import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { databaseTarget } from "../../../src/db/database-url.ts";
import { migrate } from "../../../src/db/migrate.ts";
import { POSTGRES_ADMIN_URL, PROVIDERS, type Provider } from "../../helpers/test-database.ts";

const FIRST_RELEASE = "20261129000000_init";
const LATER_MIGRATIONS = [
  "20261130000000_job_input",
  "20261205000000_github_identity_sessions",
  "20261205300000_repository_index",
];

/** The rows a 0.1.0 database holds: jobs with their input in the row, one already completed. */
const JOBS = [
  { id: "queued-job", key: "delivery:a", status: "queued", data: '{"payload":{"n":1}}' },
  { id: "failed-job", key: "delivery:b", status: "failed", data: '{"payload":{"n":2}}' },
  { id: "done-job", key: "delivery:c", status: "completed", data: "{}" },
];
const INSERT_JOB = `INSERT INTO "Job" ("id", "name", "key", "status", "data", "updatedAt") VALUES ($1, 'webhook.deliver', $2, $3, $4, CURRENT_TIMESTAMP)`;

interface Client {
  run(sql: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

describe.each(PROVIDERS)("migrating a %s database of the first release", (provider: Provider) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function firstReleaseDatabase(): Promise<{ url: string; client: Client }> {
    // A project root holding only the migrations of 0.1.0.
    const root = mkdtempSync(join(tmpdir(), "amistio-migrate-"));
    cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
    const folder = provider === "postgresql" ? "prisma/postgres/migrations" : "prisma/migrations";
    mkdirSync(join(root, folder), { recursive: true });
    cpSync(join(folder, FIRST_RELEASE), join(root, folder, FIRST_RELEASE), { recursive: true });

    let url: string;
    if (provider === "sqlite") {
      url = `file:${join(root, "old.db")}`;
    } else {
      const name = `amistio_migrate_${randomBytes(6).toString("hex")}`;
      const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      url = POSTGRES_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
      cleanups.push(async () => {
        const dropper = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
        await dropper.connect();
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await dropper.end();
      });
    }
    expect(await migrate(databaseTarget(url), root)).toEqual([FIRST_RELEASE]);
    const client = await connect(url);
    cleanups.push(() => client.close());
    return { url, client };
  }

  async function connect(url: string): Promise<Client> {
    const target = databaseTarget(url);
    if (target.provider === "sqlite") {
      const db = new Sqlite(target.file);
      return {
        run: async (sql, values = []) => {
          const statement = db.prepare(sql.replace(/\$\d+/g, "?"));
          if (statement.reader) return statement.all(values) as Record<string, unknown>[];
          statement.run(values);
          return [];
        },
        close: async () => void db.close(),
      };
    }
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    return { run: async (sql, values) => (await client.query(sql, values)).rows, close: () => client.end() };
  }

  it("moves the input of unfinished jobs to JobInput and keeps every job and its key", async () => {
    const { url, client } = await firstReleaseDatabase();
    for (const job of JOBS) await client.run(INSERT_JOB, [job.id, job.key, job.status, job.data]);

    expect(await migrate(databaseTarget(url))).toEqual(LATER_MIGRATIONS);

    const jobs = await client.run(`SELECT "id", "key", "status" FROM "Job" ORDER BY "id"`);
    expect(jobs).toEqual(
      JOBS.map(({ id, key, status }) => ({ id, key, status })).sort((a, b) => a.id.localeCompare(b.id)),
    );
    expect(await client.run(`SELECT "jobId", "data" FROM "JobInput" ORDER BY "jobId"`)).toEqual([
      { jobId: "failed-job", data: '{"payload":{"n":2}}' },
      { jobId: "queued-job", data: '{"payload":{"n":1}}' },
    ]);
    // The key is still unique, and removing a job removes its input.
    await expect(
      client.run(
        `INSERT INTO "Job" ("id", "name", "key", "updatedAt") VALUES ('other', 'x', 'delivery:a', CURRENT_TIMESTAMP)`,
      ),
    ).rejects.toThrow(/unique/i);
    await client.run(`DELETE FROM "Job" WHERE "id" = 'queued-job'`);
    expect(await client.run(`SELECT "jobId" FROM "JobInput"`)).toEqual([{ jobId: "failed-job" }]);
  });

  it("keeps each person's events theirs and binds tasks, versions and approvals to their GitHub account", async () => {
    const { url, client } = await firstReleaseDatabase();
    await client.run(
      `INSERT INTO "User" ("id", "githubId", "login", "updatedAt") VALUES ('alice', 101, 'alice', CURRENT_TIMESTAMP), ('bob', 202, 'bob', CURRENT_TIMESTAMP)`,
    );
    await client.run(
      `INSERT INTO "Identity" ("id", "userId", "provider", "subject", "updatedAt") VALUES ('i1', 'alice', 'github', '101', CURRENT_TIMESTAMP)`,
    );
    await client.run(
      `INSERT INTO "Workspace" ("id", "installationId", "accountLogin", "accountType", "accountId", "updatedAt") VALUES ('w', 1, 'o', 'Organization', 1, CURRENT_TIMESTAMP)`,
    );
    await client.run(
      `INSERT INTO "Repository" ("id", "workspaceId", "githubId", "fullName", "updatedAt") VALUES ('r', 'w', 2, 'o/r', CURRENT_TIMESTAMP)`,
    );
    await client.run(
      `INSERT INTO "Task" ("id", "workspaceId", "repositoryId", "number", "title", "requesterId", "updatedAt") VALUES ('t', 'w', 'r', 1, 'x', 'alice', CURRENT_TIMESTAMP)`,
    );
    await client.run(
      `INSERT INTO "PlanVersion" ("id", "taskId", "version", "contentHash", "content", "source", "createdById") VALUES ('v', 't', 1, 'h', '{}', 'offline', 'alice')`,
    );
    await client.run(
      `INSERT INTO "Approval" ("id", "planVersionId", "approverId", "contentHash", "permission") VALUES ('a', 'v', 'bob', 'h', 'write')`,
    );

    await migrate(databaseTarget(url));

    expect(await client.run(`SELECT "id", "auditPseudonym" FROM "User" ORDER BY "id"`)).toEqual([
      { id: "alice", auditPseudonym: "alice" },
      { id: "bob", auditPseudonym: "bob" },
    ]);
    // Rebuilding User would have cascaded to its identities: they are still there.
    expect(await client.run(`SELECT "id" FROM "Identity"`)).toEqual([{ id: "i1" }]);
    const [task] = await client.run(`SELECT "requesterGithubId" FROM "Task"`);
    const [version] = await client.run(`SELECT "createdByGithubId" FROM "PlanVersion"`);
    const [approval] = await client.run(`SELECT "approverGithubId" FROM "Approval"`);
    expect([task?.requesterGithubId, version?.createdByGithubId, approval?.approverGithubId].map(String)).toEqual([
      "101",
      "101",
      "202",
    ]);
    // One GitHub account counts once per version.
    await expect(
      client.run(
        `INSERT INTO "Approval" ("id", "planVersionId", "approverGithubId", "contentHash", "permission") VALUES ('a2', 'v', 202, 'h', 'write')`,
      ),
    ).rejects.toThrow(/unique/i);
  });
});

describe.each(PROVIDERS)("first start of several processes together on an empty %s database", (provider: Provider) => {
  it("4 concurrent migrations, 5 times over, all succeed and apply each migration once", async () => {
    const failures: unknown[] = [];
    for (let round = 0; round < 5; round++) {
      let url: string;
      let cleanup: () => Promise<void>;
      if (provider === "sqlite") {
        const dir = mkdtempSync(join(tmpdir(), "amistio-migrate-race-"));
        url = `file:${join(dir, "race.db")}`;
        cleanup = async () => rmSync(dir, { recursive: true, force: true });
      } else {
        const name = `amistio_migrate_race_${randomBytes(6).toString("hex")}`;
        const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${name}`);
        await admin.end();
        url = POSTGRES_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
        cleanup = async () => {
          const dropper = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
          await dropper.connect();
          await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await dropper.end();
        };
      }
      try {
        const results = await Promise.allSettled(Array.from({ length: 4 }, () => migrate(databaseTarget(url))));
        for (const result of results) if (result.status === "rejected") failures.push(result.reason);
        // Every migration was applied by exactly one of them.
        const applied = results.flatMap((result) => (result.status === "fulfilled" ? result.value : []));
        if (failures.length === 0) expect(applied.sort()).toEqual([FIRST_RELEASE, ...LATER_MIGRATIONS]);
      } finally {
        await cleanup();
      }
    }
    expect(failures.map(String)).toEqual([]);
  }, 60_000);
});
