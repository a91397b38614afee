// Kept free of imports: src/main.ts calls it before loading anything that could fail on an old Node.

/** The Node.js lines Amistio supports, as named in package.json's `engines` and the docs. */
export const SUPPORTED_NODE = "22 or 24 LTS (20.18.1+ still works while 20 is the build machines' system Node)";

/** The oldest release that works: Probot 14 and process.loadEnvFile need 20.18.1. */
const MINIMUM = [20, 18, 1] as const;

/**
 * One line saying why this Node.js cannot run Amistio, or undefined when it can. Releases older
 * than the supported lines are refused at start rather than failing later on a missing API.
 */
export function unsupportedNodeMessage(version: string): string | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match)
    return `Amistio cannot start: cannot read the Node.js version "${version}"; use Node.js ${SUPPORTED_NODE}.`;
  const parts = match.slice(1, 4).map(Number);
  for (let i = 0; i < MINIMUM.length; i++) {
    const [have, need] = [parts[i] ?? 0, MINIMUM[i] ?? 0];
    if (have > need) return undefined;
    if (have < need)
      return `Amistio cannot start on Node.js ${match[0].replace(/^v?/, "v")}: use Node.js ${SUPPORTED_NODE}.`;
  }
  return undefined;
}
