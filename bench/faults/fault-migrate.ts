// One process's first start for `npm run faults`: applies the migrations to DATABASE_URL and exits
// 0, or prints the error and exits 1.
import { databaseTarget } from "../../src/db/database-url.ts";
import { migrate } from "../../src/db/migrate.ts";

try {
  await migrate(databaseTarget(process.env.DATABASE_URL));
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
