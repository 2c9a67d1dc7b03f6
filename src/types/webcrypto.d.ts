// Node exposes WebCrypto globally, but @types/node declares only its values (`crypto`, `CryptoKey`), not the DOM's
// type names. The sandbox and @peculiar/x509 speak WebCrypto, so give the type names to the whole project.
import type { webcrypto } from 'node:crypto';

declare global {
  type CryptoKeyPair = webcrypto.CryptoKeyPair;
  type Crypto = webcrypto.Crypto;
  type CryptoKey = webcrypto.CryptoKey;
  type JsonWebKey = webcrypto.JsonWebKey;
}

export {};
