import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { unsupportedNodeMessage } from "../../../src/startup/node-version.ts";

describe("unsupportedNodeMessage", () => {
  it.each(["v20.18.1", "20.20.2", "v22.11.0", "v22.22.0", "v24.0.0", "v24.22.3", "v26.1.0"])(
    "accepts %s",
    (version) => {
      expect(unsupportedNodeMessage(version)).toBeUndefined();
    },
  );

  it.each(["v20.18.0", "v20.9.0", "v18.20.8", "v16.0.0", "v0.12.18"])(
    "refuses %s in one line naming the lines",
    (version) => {
      const message = unsupportedNodeMessage(version);
      expect(message).toContain(`Node.js ${version}`);
      expect(message).toContain("22 or 24 LTS");
      expect(message).not.toContain("\n");
    },
  );

  it("refuses a version it cannot read, saying so", () => {
    expect(unsupportedNodeMessage("banana")).toMatch(/cannot read the Node\.js version "banana"/);
  });

  it("package.json's engines names the supported lines, and this Node is in them", () => {
    const { engines } = JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } };
    expect(engines.node).toBe("^20.18.1 || ^22.11.0 || >=24.11.0");
    expect(unsupportedNodeMessage(process.versions.node)).toBeUndefined();
  });

  it("is what src/main.ts prints, before loading anything else, on an old Node", () => {
    // Simulate an old Node by overriding the version main.ts reads; nothing else in main.ts may run.
    const script = `Object.defineProperty(process.versions, "node", { value: "18.20.8" }); await import("./src/main.ts");`;
    let output = "";
    try {
      execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, APP_ID: "", NODE_ENV: "test" },
      });
      expect.unreachable("main.ts should exit on Node 18");
    } catch (error) {
      const failed = error as { status: number; stderr: string; stdout: string };
      expect(failed.status).toBe(1);
      output = failed.stderr + failed.stdout;
    }
    expect(output.trim()).toBe(unsupportedNodeMessage("18.20.8"));
  });
});
