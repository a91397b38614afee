import { generateKeyPairSync, randomBytes } from "node:crypto";

// Fake credentials shaped like real ones, so secretlint's rules fire. They are assembled at run
// time so this repository never contains a string a secret scanner would flag.

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomFrom(alphabet: string, length: number): string {
  return Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join("");
}

export function fakeGitHubToken(): string {
  return `${"gh"}p_${randomFrom(ALPHANUMERIC, 36)}`;
}

export function fakeAwsAccessKeyId(): string {
  return `${"AK"}IA${randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}`;
}

export function fakeAwsSecretAccessKey(): string {
  return randomFrom(`${ALPHANUMERIC}/+`, 40);
}

export function fakeOpenAiProjectKey(): string {
  return `sk-${"proj"}-${randomFrom(ALPHANUMERIC, 74)}${"T3Blbk"}FJ${randomFrom(ALPHANUMERIC, 74)}`;
}

export function fakeOpenAiLegacyKey(): string {
  return `sk-${randomFrom(ALPHANUMERIC, 20)}${"T3Blbk"}FJ${randomFrom(ALPHANUMERIC, 20)}`;
}

export function fakeSlackBotToken(): string {
  return `${"xo"}xb-${randomFrom("0123456789", 11)}-${randomFrom("0123456789", 13)}-${randomFrom(ALPHANUMERIC, 24)}`;
}

/** A real (throwaway) RSA key in PEM form: secretlint checks the key's structure, not just its header. */
export function fakePemPrivateKey(): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  return privateKey.export({ type: "pkcs1", format: "pem" }).toString().trim();
}
