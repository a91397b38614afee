// Derives prisma/postgres/schema.prisma from prisma/schema.prisma: Prisma fixes the provider per
// schema file, and keeping one hand-written source stops the two models from drifting apart.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

const source = readFileSync("prisma/schema.prisma", "utf8");
const derived = source
  .replace('output     = "../src/db/generated/sqlite"', 'output     = "../../src/db/generated/postgres"')
  .replace(
    'provider = "sqlite"\n  url      = "file:./data/amistio.db"',
    'provider = "postgresql"\n  url      = "postgresql://localhost/amistio"',
  )
  .replace(
    /^\/\/ Amistio's data model\..*\n(\/\/.*\n)*/,
    "// GENERATED from prisma/schema.prisma by `npm run db:schemas`: edit that file, not this one.\n",
  );
if (derived === source || !derived.includes('provider = "postgresql"') || !derived.includes("generated/postgres")) {
  throw new Error("prisma/schema.prisma no longer has the generator/datasource lines this script rewrites");
}
mkdirSync("prisma/postgres", { recursive: true });
const check = process.argv.includes("--check");
if (check) {
  const current = readFileSync("prisma/postgres/schema.prisma", "utf8");
  if (current !== derived) {
    console.error("prisma/postgres/schema.prisma is out of date: run npm run db:schemas");
    process.exit(1);
  }
} else {
  writeFileSync("prisma/postgres/schema.prisma", derived);
}
