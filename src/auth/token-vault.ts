import { CompactEncrypt, compactDecrypt } from "jose";

export interface TokenVault {
  seal(token: string): Promise<string>;
  /** Undefined when the text was not sealed with this key (e.g. the key changed): the token is lost. */
  open(sealed: string): Promise<string | undefined>;
}

/** OAuth tokens are stored encrypted, so a copy of the database alone does not hand them out. */
export function createTokenVault(key: Uint8Array): TokenVault {
  return {
    seal: (token) =>
      new CompactEncrypt(new TextEncoder().encode(token))
        .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
        .encrypt(key),
    async open(sealed) {
      try {
        const { plaintext } = await compactDecrypt(sealed, key);
        return new TextDecoder().decode(plaintext);
      } catch {
        return undefined;
      }
    },
  };
}
