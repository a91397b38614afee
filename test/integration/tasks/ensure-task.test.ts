import { afterEach, describe, expect, it } from "vitest";
import { ensureTask } from "../../../src/tasks/ensure-task.ts";
import { createTestDatabase, PROVIDERS, type TestDatabase } from "../../helpers/test-database.ts";

describe.each(PROVIDERS)("ensureTask on %s", (provider) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.destroy();
    database = undefined;
  });

  it("makes one workspace, repository and task when several workers ask at the same moment", async () => {
    database = await createTestDatabase(provider);
    const { db } = database;
    const source = {
      installation: { id: 4242 },
      repository: {
        id: 77,
        name: "widgets",
        full_name: "octo-org/widgets",
        private: true,
        default_branch: "main",
        owner: { login: "octo-org", id: 99, type: "Organization" },
      },
      number: 7,
      isPullRequest: false,
      title: "Add a widget cache",
    };
    const tasks = await Promise.all(Array.from({ length: 8 }, () => ensureTask(db, source, null)));
    expect(new Set(tasks.map((task) => task.id)).size).toBe(1);
    expect(await db.workspace.count()).toBe(1);
    expect(await db.repository.count()).toBe(1);
    expect(await db.task.count()).toBe(1);
  });
});
