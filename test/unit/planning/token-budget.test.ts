import { describe, expect, it } from "vitest";
import { monthStart, nextMonthStart } from "../../../src/planning/token-budget.ts";
import { refusal } from "../../../src/refusals/refusals.ts";

describe("token budget months", () => {
  it("counts calendar months in UTC, across the year's end", () => {
    const lateDecember = new Date("2026-12-31T23:59:59.999Z");
    expect(monthStart(lateDecember).toISOString()).toBe("2026-12-01T00:00:00.000Z");
    expect(nextMonthStart(lateDecember).toISOString()).toBe("2027-01-01T00:00:00.000Z");
    // 00:30 on 1 March in UTC+2 is still February in UTC.
    const justBefore = new Date("2027-03-01T00:30:00+02:00");
    expect(monthStart(justBefore).toISOString()).toBe("2027-02-01T00:00:00.000Z");
  });

  it("names the month used up and the day it starts again", () => {
    const { text } = refusal("plan.over_budget", {
      used: 1_234_567,
      limit: 1_000_000,
      resetsAt: new Date("2027-01-01T00:00:00Z"),
      prefix: "/bot",
    });
    expect(text).toContain("budget for December 2026**: 1,234,567 of 1,000,000 tokens");
    expect(text).toContain("starts again on 1 January 2027 (00:00 UTC); `/bot plan` works again then");
  });
});
