import type { Plan } from "./plan-schema.ts";

/** The plan as plain text: what the agent was given. */
export function planText(plan: Plan): string {
  const lines = [plan.summary, ""];
  plan.steps.forEach((step, index) => {
    lines.push(`${index + 1}. ${step.title}`);
    if (step.details) lines.push(...step.details.split(/\r?\n/).map((line) => `   ${line}`));
    if (step.files.length > 0) lines.push(`   Files: ${step.files.join(", ")}`);
  });
  const section = (title: string, items: string[]) =>
    items.length > 0 ? ["", `${title}:`, ...items.map((item) => `- ${item}`)] : [];
  lines.push(
    ...section("Risks", plan.risks),
    ...section("Tests", plan.tests),
    ...section("Open questions", plan.questions),
  );
  return lines.join("\n");
}
