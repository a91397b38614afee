#!/usr/bin/env node
// The runner CLI is TypeScript run by tsx, like the rest of Amistio: no build step.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/runner/cli.ts");
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
