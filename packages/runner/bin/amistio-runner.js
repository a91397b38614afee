#!/usr/bin/env node
// The runner is TypeScript run by tsx (a dependency of this package): Node 20 cannot run .ts itself,
// and `npm ci` of this package alone then gives a working runner, with no build step.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli.ts");
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
