// @peculiar/x509 builds on tsyringe, which throws at load time without a Reflect metadata
// polyfill: it must be evaluated before the library, so every CA file imports x509 from here.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// The library signs and hashes through WebCrypto; pin node's own so it never picks up a
// polyfill or a different global.
x509.cryptoProvider.set(webcrypto as never);

export { x509 };
