// npm run audit:export -- --workspace <id> [--out file]
// Writes one workspace's audit events as JSON Lines to stdout or a file; the count goes to stderr.
// Exit 0: exported. Exit 2: bad arguments, unknown workspace, or no database. Exit 1: failed midway.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { exportAuditEvents } from "../src/audit/export-audit-events.ts";
import { openScriptDatabase, UsageError } from "./open-script-database.ts";

const USAGE = "usage: npm run audit:export -- --workspace <workspace id> [--out <file>]";

async function main(): Promise<void> {
  let values: { workspace?: string; out?: string };
  try {
    ({ values } = parseArgs({ options: { workspace: { type: "string" }, out: { type: "string" } } }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const workspaceId = values.workspace?.trim();
  if (!workspaceId) throw new UsageError("--workspace is required");

  const database = await openScriptDatabase();
  try {
    // A deleted workspace's events stay exportable, so an id the trail knows counts as known too.
    const known =
      (await database.db.workspace.count({ where: { id: workspaceId } })) > 0 ||
      (await database.db.auditEvent.count({ where: { workspaceId } })) > 0;
    if (!known) throw new UsageError(`unknown workspace "${workspaceId}"`);
    const out: Writable = values.out ? createWriteStream(values.out) : process.stdout;
    const count = await exportAuditEvents(database.db, {
      workspaceId,
      // Waiting for "drain" keeps a large export from piling up in memory.
      write: async (line) => {
        if (!out.write(line)) await once(out, "drain");
      },
    });
    if (out !== process.stdout) {
      out.end();
      await once(out, "finish");
    }
    console.error(`exported ${count} audit events for workspace ${workspaceId}`);
  } finally {
    await database.close();
  }
}

try {
  await main();
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`audit export failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
