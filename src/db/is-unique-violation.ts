/** Prisma's error for an insert or update that hit a unique constraint (P2002), on either provider. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}
