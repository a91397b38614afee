/** The signed-in person, as the pages see them. */
export interface Viewer {
  id: string;
  /** How audit events name this person. */
  auditPseudonym: string;
  login: string | null;
  name: string | null;
  email: string | null;
  githubId: bigint | null;
  /** Named in AMISTIO_ADMINS: may handle everyone's privacy requests. */
  isAdmin: boolean;
}

/** What the person is called on pages: their own words first. */
export function displayName(person: { login: string | null; name: string | null; email?: string | null }): string {
  return person.name ?? person.login ?? person.email ?? "you";
}
