import type { Db } from "../db/create-database.ts";

/** A verified identity from a provider, its tokens already sealed for storage. */
export interface VerifiedIdentity {
  /** "github", or the OpenID Connect issuer URL. */
  provider: string;
  subject: string;
  email: string | null;
  accessToken: string | null;
  refreshToken: string | null;
  expiresAt: Date | null;
  profile: {
    githubId?: bigint;
    login?: string;
    name: string | null;
    email: string | null;
    avatarUrl: string | null;
  };
}

export type SignInOutcome =
  | { ok: true; userId: string; created: boolean; linked: boolean }
  | { ok: false; reason: "identity_taken" | "github_account_taken" | "other_github_linked" };

/** Providers' free-text fields are kept, but bounded: a 10 KB "name" is no name. */
export const MAX_PROFILE_TEXT = 200;

export function clip(text: string | null | undefined, max = MAX_PROFILE_TEXT): string | null {
  const trimmed = text?.trim();
  if (!trimmed) return null;
  // By code point, so an emoji is never cut in half.
  const points = Array.from(trimmed);
  return points.length <= max ? trimmed : points.slice(0, max).join("");
}

/**
 * Finds or creates the account an identity signs in to, or links it to `linkTo` (the signed-in
 * user). An identity belongs to one account only: linking one that is already someone else's is
 * refused and nothing changes. A GitHub account that Amistio met through webhooks (a user row with
 * that GitHub id but no sign-in yet) is the same person, so signing in adopts that row.
 */
export async function resolveSignIn(db: Db, identity: VerifiedIdentity, linkTo?: string): Promise<SignInOutcome> {
  const { profile } = identity;
  const tokens = {
    email: identity.email,
    accessToken: identity.accessToken,
    refreshToken: identity.refreshToken,
    expiresAt: identity.expiresAt,
  };
  const details = {
    name: clip(profile.name),
    email: clip(profile.email, 320),
    avatarUrl: clip(profile.avatarUrl, 2000),
  };
  return db.$transaction(async (tx) => {
    const existing = await tx.identity.findUnique({
      where: { provider_subject: { provider: identity.provider, subject: identity.subject } },
      select: { id: true, userId: true },
    });
    const githubOwner =
      profile.githubId === undefined
        ? null
        : await tx.user.findUnique({ where: { githubId: profile.githubId }, select: { id: true } });

    // Only GitHub's own answer may set the login that operator checks rely on.
    const githubFields = profile.githubId === undefined ? {} : { githubId: profile.githubId, login: profile.login };
    // A person's own corrections win over what a provider says at a later sign-in.
    const fillBlanks = async (userId: string) => {
      const user = await tx.user.findUniqueOrThrow({
        where: { id: userId },
        select: { name: true, email: true, avatarUrl: true },
      });
      await tx.user.update({
        where: { id: userId },
        data: {
          ...githubFields,
          ...(user.name === null && details.name !== null ? { name: details.name } : {}),
          ...(user.email === null && details.email !== null ? { email: details.email } : {}),
          ...(user.avatarUrl === null && details.avatarUrl !== null ? { avatarUrl: details.avatarUrl } : {}),
        },
      });
    };

    if (linkTo !== undefined) {
      if (existing && existing.userId !== linkTo) return { ok: false, reason: "identity_taken" } as const;
      if (githubOwner && githubOwner.id !== linkTo) return { ok: false, reason: "github_account_taken" } as const;
      if (profile.githubId !== undefined && !githubOwner) {
        // One GitHub account per person: GitHub's login is what instance-admin checks rely on.
        const current = await tx.user.findUniqueOrThrow({ where: { id: linkTo }, select: { githubId: true } });
        if (current.githubId !== null) return { ok: false, reason: "other_github_linked" } as const;
      }
      if (existing) {
        await tx.identity.update({ where: { id: existing.id }, data: tokens });
      } else {
        await tx.identity.create({
          data: { userId: linkTo, provider: identity.provider, subject: identity.subject, ...tokens },
        });
      }
      await fillBlanks(linkTo);
      return { ok: true, userId: linkTo, created: false, linked: !existing } as const;
    }

    if (existing) {
      await tx.identity.update({ where: { id: existing.id }, data: tokens });
      await fillBlanks(existing.userId);
      return { ok: true, userId: existing.userId, created: false, linked: false } as const;
    }
    if (githubOwner) {
      await tx.identity.create({
        data: { userId: githubOwner.id, provider: identity.provider, subject: identity.subject, ...tokens },
      });
      await fillBlanks(githubOwner.id);
      return { ok: true, userId: githubOwner.id, created: false, linked: false } as const;
    }
    const user = await tx.user.create({
      data: {
        ...githubFields,
        ...details,
        identities: { create: { provider: identity.provider, subject: identity.subject, ...tokens } },
      },
      select: { id: true },
    });
    return { ok: true, userId: user.id, created: true, linked: false } as const;
  });
}
