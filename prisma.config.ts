// Prisma's JavaScript schema engine runs migrations through the same driver adapters the app
// uses, so no native Prisma engine is downloaded or needed on any machine.
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";
import { databaseTarget, ensureSqliteFolder } from "./src/db/database-url.ts";

const target = databaseTarget(process.env.DATABASE_URL || undefined);
ensureSqliteFolder(target);
const folder = target.provider === "postgresql" ? "prisma/postgres" : "prisma";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  adapter: async () =>
    target.provider === "postgresql"
      ? new PrismaPg({ connectionString: target.url })
      : new PrismaBetterSQLite3({ url: `file:${target.file}` }),
  schema: `${folder}/schema.prisma`,
  migrations: { path: `${folder}/migrations` },
});
