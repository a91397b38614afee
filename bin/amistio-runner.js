#!/usr/bin/env node
// Workflows copied before the runner became its own package install the whole repository and start
// this file: it runs the same CLI, so they keep working until they are updated from the template.
await import("../packages/runner/bin/amistio-runner.js");
