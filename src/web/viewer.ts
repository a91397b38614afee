/** The signed-in person, as the pages see them. */
export interface Viewer {
  id: string;
  /** How audit events name this person. */
  auditPseudonym: string;
  login: string | null;
  name: string | null;
  email: string | null;
  githubId: bigint | null;
  /** As the sign-in provider gave it; pages show it only when it is GitHub's (see githubAvatarUrl). */
  avatarUrl: string | null;
  /** The WebSession row this request is signed in with. */
  sessionId: string;
  /** Named in AMISTIO_ADMINS: may handle everyone's privacy requests. */
  isAdmin: boolean;
}

/** What the person is called on pages: their own words first. */
export function displayName(person: { login: string | null; name: string | null; email?: string | null }): string {
  return person.name ?? person.login ?? person.email ?? "you";
}
