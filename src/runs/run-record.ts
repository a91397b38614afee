import type { Db } from "../db/create-database.ts";

/** A run with what every step needs: its task, repository, installation and plan version. */
export async function loadRunRecord(db: Db, runId: string) {
  return db.run.findUnique({
    where: { id: runId },
    include: {
      task: { include: { repository: true, workspace: { select: { id: true, installationId: true } } } },
      planVersion: true,
    },
  });
}

export type RunRecord = NonNullable<Awaited<ReturnType<typeof loadRunRecord>>>;

export function repoOf(record: RunRecord): { owner: string; repo: string } {
  const [owner = "", repo = ""] = record.task.repository.fullName.split("/");
  return { owner, repo };
}

/** The branch the runner pushes: `amistio/<issue>-<run id>`. */
export function runBranch(record: Pick<RunRecord, "id" | "task">): string {
  return `amistio/${record.task.number}-${record.id}`;
}
