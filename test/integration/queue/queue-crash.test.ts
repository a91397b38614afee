import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { type Backend, DRIVERS, uniqueName, waitFor } from "./queue-harness.ts";

const WORKER_SCRIPT = fileURLToPath(new URL("../../fixtures/queue/crash-worker.ts", import.meta.url));

interface WorkerProcess {
  child: ChildProcess;
  output(): string;
}

describe.each(DRIVERS)("a worker killed mid-job: $name", (driver) => {
  const workers: WorkerProcess[] = [];
  let backend: Backend | undefined;
  let markers = "";

  afterEach(async () => {
    for (const { child } of workers) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    workers.length = 0;
    await backend?.close();
    rmSync(markers, { recursive: true, force: true });
  });

  function startWorker(namespace: string): WorkerProcess {
    let output = "";
    const child = spawn(process.execPath, ["--import", "tsx", WORKER_SCRIPT], {
      env: { ...process.env, ...backend!.workerEnv(namespace), MARKER_DIR: markers },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    const worker = { child, output: () => output };
    workers.push(worker);
    return worker;
  }

  const outputs = () => workers.map((worker) => `--- worker ${worker.child.pid}\n${worker.output()}`).join("\n");

  it("runs the job again in another worker process", async () => {
    backend = await driver.open();
    markers = mkdtempSync(join(tmpdir(), "amistio-queue-crash-"));
    const namespace = uniqueName();
    const producer = backend.queue(namespace);
    try {
      // Both processes start together (start-up is most of this test's time); whichever takes the job
      // first blocks in it and is killed, and the other must finish it.
      const started = [startWorker(namespace), startWorker(namespace)];
      const ready = (worker: WorkerProcess) => existsSync(join(markers, `ready-${worker.child.pid}`));
      await waitFor(
        () => `both workers to be ready\n${outputs()}`,
        () => started.every(ready),
        30_000,
      );
      const { id } = await producer.enqueue("crash-test", {});

      const runner = await waitFor(
        () => `a worker to start the job\n${outputs()}`,
        () => readdirSync(markers).find((file) => file.startsWith("started-")),
      );
      const victim = started.find((worker) => `started-${worker.child.pid}` === runner)!;
      const survivor = started.find((worker) => worker !== victim)!;
      expect((await backend.inspect(namespace, id))?.status).toBe("running");
      victim.child.kill("SIGKILL");

      await waitFor(
        () => `the other worker to finish the job\n${outputs()}`,
        () => existsSync(join(markers, "done")),
      );
      // The killed try counts.
      expect(readFileSync(join(markers, "done"), "utf8")).toBe(`${survivor.child.pid} attempt 2`);
      await waitFor(
        "the job to be completed",
        async () => (await backend!.inspect(namespace, id))?.status === "completed",
      );
    } finally {
      await producer.close();
    }
    // Generous: two Node processes start on a CI machine that may be busy with other test files.
  }, 90_000);
});
